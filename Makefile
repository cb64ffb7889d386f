# The two commands of the README: `make demo` and `make test`. Everything else they need is here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WEB := clients/web

.PHONY: demo test lint webcheck setup clean prereqs

demo: setup
	$(BIN)/ecabinet demo

# Most tests wait on sockets and subprocesses, so two workers use both cores of the CI machine.
TEST_WORKERS ?= 2

test: setup lint webcheck
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# The browser client: ESLint, and its unit tests on Node's test runner.
webcheck: $(WEB)/node_modules/.installed | prereqs
	npm run --prefix $(WEB) lint
	npm test --prefix $(WEB)

setup: $(VENV)/.installed $(WEB)/node_modules/.installed

# The machine's part (Python 3.11+ with venv, npm; Node.js 20.19+ for the tests), checked before
# anything is installed: one line naming what is missing instead of an error from pip or npm.
# Order-only below, so it runs first even with -j and never makes an install look stale.
prereqs:
	@PYTHON='$(PYTHON)' VENV='$(VENV)' sh scripts/check-prereqs $(if $(filter test lint webcheck,$(MAKECMDGOALS)),test,demo)

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml | prereqs
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./clients/python
	touch $@

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json | prereqs
	npm ci --prefix $(WEB) --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) $(WEB)/node_modules
