from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from ecabinet.app import create_app
from tests.conftest import make_settings


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    # Office conversion is reported (optional: never a 503); tests/documents covers its values.
    assert checks["conversion"] == "ok" or checks["conversion"].startswith("unavailable: ")


def test_metrics_expose_the_named_series(client: TestClient) -> None:
    text = client.get("/metrics").text
    for name in (
        "ecabinet_connected_clients",
        "ecabinet_events_sent_total",
        "ecabinet_render_queue_depth",
        "ecabinet_signins_total",
    ):
        assert name in text


def test_readiness_checks_redis_when_configured(tmp_path: Path, redis_url: str) -> None:
    with TestClient(create_app(make_settings(tmp_path, redis_url=redis_url))) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and checks["redis"] == "ok"


def test_readiness_fails_when_redis_does_not_answer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("error")
