"""Hypothesis throws generated payloads at every declared Socket.IO command and JSON endpoint.

For each: no 5xx, no crashed connection, a refusal is a well-formed error with a stable code, and
a refused request changes nothing in the database. The commands and endpoints come from the
protocol registry, so whatever is added later is fuzzed too.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pytest
import socketio
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel

from ecabinet.app import create_app
from ecabinet.app.declarations import load_declarations
from ecabinet.protocol import REGISTRY
from ecabinet.realtime import dispatch
from tests.conftest import PASSWORD, LiveServer, create_room, make_settings

T = TypeVar("T")
load_declarations()
# Reads cannot change state; the connection's own session is tested elsewhere.
SKIP_ENDPOINTS = {("POST", "/api/auth/signout"), ("POST", "/api/auth/signout-all"),
                  ("POST", "/signout")}
UNTRACKED_TABLES = {"command_receipt", "audit_record", "auth_session", "alembic_version"}

json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Small ids hit real rows; ids past 32 bits are what PostgreSQL refuses and SQLite does not.
plausible = (st.integers(0, 12) | st.integers(2**31 - 1, 2**63)
             | st.sampled_from(["", "yes", "no", "Có", "x" * 70]) | json_values)


class Harness:
    """A live server with a meeting, and a background loop holding the socket clients."""

    def __init__(self, data_dir: Path, database_url: str, redis_url: str, channel: str) -> None:
        self.app = create_app(make_settings(data_dir, database_url=database_url,
                                            redis_url=redis_url, redis_channel=channel,
                                            render_workers=1))
        self.meeting_id = self.app.runtime.db.run_sync(create_room)["meeting_id"]
        self.server = LiveServer(self.app).__enter__()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tokens: dict[str, str] = {}
        self.sockets: dict[str, socketio.AsyncClient] = {}
        for user in ("chutich", "daibieu1", "quansat"):
            self.tokens[user] = httpx.post(f"{self.server.url}/api/auth/signin",
                                           json={"username": user, "password": PASSWORD}).json()[
                "token"]
            self.sockets[user] = self.run(self._connect(self.tokens[user]))
        ack = self.run(self.sockets["chutich"].call("meeting.start", {
            "meeting_id": self.meeting_id, "client_id": uuid.uuid4().hex}))
        assert ack["ok"], ack

    async def _connect(self, token: str) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(self.server.url, transports=["websocket"], auth={"token": token})
        return client

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def fingerprint(self) -> str:
        """A digest of every row that a command could change."""
        digest = hashlib.sha256()
        with self.app.runtime.db.engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                if table.name in UNTRACKED_TABLES:
                    continue
                rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                for row in rows:
                    digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    def close(self) -> None:
        for client in self.sockets.values():
            self.run(client.disconnect())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.server.__exit__(None, None, None)
        self.app.runtime.db.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory, module_pg_url: str,
            module_redis: tuple[str, str]) -> Iterator[Harness]:
    saved = dispatch.COMMAND_RATE, dispatch.COMMAND_BURST
    dispatch.COMMAND_RATE = dispatch.COMMAND_BURST = 1e9  # the fuzzer is no flood
    h = Harness(tmp_path_factory.mktemp("fuzz"), module_pg_url, *module_redis)
    try:
        yield h
    finally:
        h.close()
        dispatch.COMMAND_RATE, dispatch.COMMAND_BURST = saved


def command_payloads(name: str, meeting_id: int) -> st.SearchStrategy[Any]:
    fields = list(REGISTRY.commands[name].schema.model_json_schema().get("properties", {}))
    shaped = st.fixed_dictionaries(
        {"meeting_id": st.just(meeting_id) | plausible,
         "client_id": st.uuids().map(lambda u: u.hex) | plausible},
        optional={f: plausible for f in fields if f not in ("meeting_id", "client_id")}
        | {"unexpected": json_values},
    )
    return shaped | json_values


def check_refusal(ack: Any) -> bool:
    """True when the ack refused; fails the test when it is malformed."""
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
    if ack["ok"]:
        return False
    error = ack["error"]
    assert isinstance(error["code"], str) and error["code"] and error["code"] != "internal", ack
    assert isinstance(error["message"], str) and error["message"]
    return True


@pytest.mark.parametrize("name", sorted(REGISTRY.commands))
@pytest.mark.parametrize("user", ["chutich", "daibieu1", "quansat"])
def test_commands_survive_generated_payloads(harness: Harness, name: str, user: str) -> None:
    sock = harness.sockets[user]

    @settings(max_examples=15, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(payload=command_payloads(name, harness.meeting_id))
    def probe(payload: Any) -> None:
        before = harness.fingerprint()
        ack = harness.run(sock.call(name, payload, timeout=20))
        if check_refusal(ack):
            assert harness.fingerprint() == before, f"{name} refused {ack} but changed state"

    probe()
    assert harness.run(sock.call("whoami", {}))["ok"]  # the connection survived


def endpoint_path(path: str, meeting_id: int, value: Any) -> str:
    out = path
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            fill = meeting_id if part == "{meeting_id}" else value
            # Percent-encoded, as a browser would send it: the server must cope with any value.
            out = out.replace(part, quote(str(fill), safe="") or "0", 1)
    return out


@pytest.mark.parametrize("key", sorted(k for k in REGISTRY.endpoints if k not in SKIP_ENDPOINTS))
def test_endpoints_survive_generated_requests(harness: Harness, key: tuple[str, str]) -> None:
    method, path = key
    headers = {"authorization": f"Bearer {harness.tokens['chutich']}"}

    @settings(max_examples=12, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(body=json_values, value=st.integers(-5, 10**12) | st.text(max_size=12))
    def probe(body: Any, value: Any) -> None:
        url = harness.server.url + endpoint_path(path, harness.meeting_id, value)
        before = harness.fingerprint()
        with httpx.Client(timeout=30, follow_redirects=False) as http:
            if method in ("GET", "HEAD", "DELETE"):
                r = http.request(method, url, headers=headers)
            else:
                r = http.request(method, url, json=body, headers=headers)
        assert r.status_code < 500, f"{method} {path} -> {r.status_code}: {r.text[:300]}"
        if r.status_code >= 400:
            assert harness.fingerprint() == before, f"{method} {path} refused but changed state"
            if r.headers.get("content-type", "").startswith("application/json"):
                assert r.json()["error"]["code"]

    probe()


def test_ids_past_32_bits_are_refused_as_bad_input(harness: Harness) -> None:
    """PostgreSQL's integer columns stop at 2**31 - 1 (SQLite's do not): a larger id is the
    caller's bad input (400 / ``invalid_payload``), on every path: HTTP, commands, and the
    batched ballot path."""
    big = 2**40
    sock = harness.sockets["daibieu1"]
    for name, payload in [("poll.cast", {"poll_id": big, "choice": ["yes"]}),
                          ("poll.cast", {"meeting_id": big, "poll_id": 1, "choice": ["yes"]}),
                          ("speaker.request", {"item_id": big}),
                          ("annotation.delete", {"id": big})]:
        body = {"meeting_id": harness.meeting_id, "client_id": uuid.uuid4().hex, **payload}
        ack = harness.run(sock.call(name, body, timeout=20))
        assert check_refusal(ack), (name, ack)
        assert ack["error"]["code"] in ("invalid_payload", "meeting_not_found"), (name, ack)
    headers = {"authorization": f"Bearer {harness.tokens['chutich']}"}
    with httpx.Client(base_url=harness.server.url, headers=headers, timeout=30) as http:
        for path in (f"/api/meetings/{big}", f"/api/documents/{big}",
                     f"/api/meetings/{harness.meeting_id}/polls/{big}/result.json"):
            r = http.get(path)
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_payload", path
