# The two commands of the README: `make demo` and `make test`. Everything else they need is here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WEB := clients/web

.PHONY: demo test lint webcheck setup clean

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
webcheck: $(WEB)/node_modules/.installed
	npm run --prefix $(WEB) lint
	npm test --prefix $(WEB)

setup: $(VENV)/.installed $(WEB)/node_modules/.installed

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./clients/python
	touch $@

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	npm ci --prefix $(WEB) --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) $(WEB)/node_modules
