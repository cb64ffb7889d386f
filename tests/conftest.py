"""Shared fixtures: settings per test, SQLite and PostgreSQL backends, Redis, a live server.

PostgreSQL and Redis are the real servers on 127.0.0.1. Locally, a test that needs one that is
not running is skipped with the reason; with CI=true it fails instead, so CI never skips them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.testclient import TestClient

from ecabinet.app import create_app
from ecabinet.core.settings import Settings
from ecabinet.services import accounts, packs
from tests.waiting import wait_until

CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("ECABINET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ECABINET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "mật-khẩu-thử-nghiệm"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _answers(host, port):
        return
    message = f"{name} is not answering at {host}:{port}"
    if CI:
        pytest.fail(f"{message}; CI must run these tests, not skip them")
    pytest.skip(message)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Production argon2 parameters cost ~50 ms a hash by design; tests create many accounts.
    monkeypatch.setattr(
        accounts,
        "_hasher",
        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)),
    )


def _pg_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Every test that uses the database runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return None  # the default: a SQLite file in the data folder
    url: str = request.getfixturevalue("pg_url")
    return url


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "secret_key": "test-secret-key-0123456789",
        "port": 0,
        # Tests run side by side on one Redis: each app gets its own pub/sub channel.
        "redis_channel": f"ecabinet-test-{uuid.uuid4().hex[:12]}",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(tmp_path / "data", database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    application = create_app(settings)
    yield application
    application.runtime.db.close()  # also when no server ran the lifespan


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def make_user(app: Any) -> Callable[..., dict[str, Any]]:
    """Create an account; returns its id, username and password."""

    def make(
        username: str, full_name: str = "Người dùng thử", *, is_admin: bool = False
    ) -> dict[str, Any]:
        user = app.runtime.db.run_sync(
            accounts.create_user, username, PASSWORD, full_name, is_admin=is_admin
        )
        return {"id": user.id, "username": user.username, "password": PASSWORD}

    return make


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/api/auth/signin", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


class LiveServer:
    """A real uvicorn serving the app on a free port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_config=None,
            lifespan="on",
            ws_per_message_deflate=False,
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()

        def started() -> bool:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn stopped while starting")
            return bool(self.server.started)

        wait_until(started, "uvicorn serves the app", timeout=15)
        return self

    @property
    def port(self) -> int:
        sock = self.server.servers[0].sockets[0]
        port: int = sock.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


ROOM_PACK = """
meeting:
  title: Phiên họp thử nghiệm trực tuyến
  body: Ban Quản lý Khu kinh tế
participants:
  - {user: chutich, role: chair}
  - {user: thuky, role: secretary}
  - {user: daibieu1, role: delegate}
  - {user: daibieu2, role: delegate}
  - {user: quansat, role: observer}
agenda:
  - title: Khai mạc
  - title: Báo cáo tài chính
    items:
      - title: Thu ngân sách
      - title: Chi ngân sách
  - title: Nhân sự lãnh đạo
    confidential: true
  - title: Bế mạc
"""
USERS = {"chutich": "Nguyễn Văn An", "thuky": "Trần Thị Bích Ngọc", "daibieu1": "Lê Hoàng Minh",
         "daibieu2": "Phạm Thị Thu Hà", "quansat": "Võ Đức Thắng", "nguoingoai": "Người Ngoài"}


def create_room(session: Any, status: str = "published") -> dict[str, Any]:
    for username, name in USERS.items():
        accounts.create_user(session, username, PASSWORD, name)
    meeting = packs.import_pack(session, packs.parse_pack(ROOM_PACK))
    meeting.status = status
    session.add(meeting)
    session.flush()
    return {"meeting_id": meeting.id}


@pytest.fixture
def room(app: Any) -> dict[str, Any]:
    """A published meeting with a chair, a secretary, two delegates, an observer and an outsider."""
    info: dict[str, Any] = app.runtime.db.run_sync(create_room)
    return info
