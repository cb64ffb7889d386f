"""Rendering through the Redis-backed queue: `ecabinet worker` processes and server consumers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from ecabinet.core.settings import Settings
from ecabinet.rendering.redis_queue import RedisRenderQueue
from tests.conftest import make_settings
from tests.documents import samples
from tests.documents.conftest import Api

pytestmark = pytest.mark.redis


@pytest.fixture
def database_url() -> None:
    return None


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, overrides: dict[str, Any]) -> Iterator[Settings]:
    # Each test has its own key space on the shared Redis (the channel prefixes every key).
    channel = f"test-{uuid.uuid4().hex[:12]}"
    values = {"render_workers": 0, "redis_channel": channel, **overrides}
    yield make_settings(tmp_path / "data", redis_url=redis_url, **values)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{channel}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `ecabinet worker` process sharing the data folder and the Redis queue."""
    env = {
        **os.environ,
        "ECABINET_DATA_DIR": str(settings.data_dir),
        "ECABINET_REDIS_URL": str(settings.redis_url),
        "ECABINET_REDIS_CHANNEL": settings.redis_channel,
        "ECABINET_SECRET_KEY": str(settings.secret_key),
    }
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ecabinet", "worker", "--processes", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


@pytest.mark.slow
def test_an_ecabinet_worker_renders_what_the_server_queues(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any],
    worker: subprocess.Popen[bytes], tmp_path: Path,
) -> None:
    assert isinstance(app.runtime.renders.queue, RedisRenderQueue)
    secretary = as_user("thuky")
    doc = secretary.uploaded(room["meeting_id"], samples.pdf(3), title="Qua hàng đợi Redis")
    # Asking for a page waits for the worker process to render it, first in line.
    image = secretary.get(f"/api/documents/{doc['id']}/pages/3/tablet")
    assert image.status_code == 200, image.text
    status = secretary.rendered(doc["id"], timeout=60)
    assert status["status"] == "ready" and status["pages_ready"] == 3
    assert worker.poll() is None
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0, (tmp_path / "worker.log").read_text()


@pytest.mark.parametrize("overrides", [{"render_workers": 1}])
def test_servers_render_from_the_shared_queue_too(
    as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    first = secretary.uploaded(room["meeting_id"], samples.pdf(2, marker="Mot"))
    second = secretary.uploaded(room["meeting_id"], samples.pdf(2, marker="Hai"))
    for doc in (first, second):
        assert secretary.rendered(doc["id"], timeout=60)["status"] == "ready"
    words = secretary.get(f"/api/documents/{second['id']}/pages/2/text").json()["words"]
    assert "Hai2" in [w[4] for w in words]
    # The shared queue's depth (all servers and workers), read from Redis every second.
    assert "\necabinet_render_queue_depth " in secretary.client.get("/metrics").text
