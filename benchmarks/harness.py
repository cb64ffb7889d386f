"""What the realtime benchmarks share: server processes, a big meeting, lean clients, statistics.

- ``ServerProcess`` runs ``python -m ecabinet serve`` or the bare python-socketio server below
  (``python -m benchmarks.harness bare``) on a free port, with the same uvicorn settings.
- ``prepare_meeting`` writes a published meeting with a chair and N delegates, each with a
  sign-in token, straight into the database the server will use.
- ``Fleet`` spreads N lean Socket.IO clients over several worker processes. A lean client is
  Engine.IO v4 / Socket.IO v5 spoken over one raw websocket (the ``websockets`` package): it
  answers pings, connects with ``40{auth}``, sends ``42<id>[name, payload]`` and reads
  ``43<id>[answer]`` acks and ``42["event", envelope]`` events. ``socketio.AsyncClient`` costs
  several times more CPU per message (shared/PERFORMANCE.md), and the clients share the server's
  two cores, so their cost is part of every number.
- Times are ``time.time()`` taken in each process (one machine, one clock): a send time in the
  parent and receive times in the workers are compared directly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("ECABINET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ECABINET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BARE_ROOM = "bench"
CONNECT_CONCURRENCY = 64  # per worker, while a fleet first connects
JOIN_NOTE = (
    "The fleet's first join asks for the events since the meeting's current sequence number "
    "instead of a snapshot: what is measured is the fan-out and the resync, and a full snapshot "
    "of a meeting with N participants grows with N (its participant and attendance lists), so "
    "N first joins would cost O(N^2) before the first measurement. The chair's own first join "
    "is a snapshot; its time and size are reported as snapshot_join."
)

# --- statistics ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds (rounded to 0.1 ms), and the sample count."""
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1) if seconds else math.nan,
        "samples": len(seconds),
    }


def ratio(ours: float, bare: float) -> float:
    return round(ours / bare, 2) if bare > 0 else math.inf


def machine() -> dict[str, Any]:
    """The machine and the library versions, for the record."""
    from importlib.metadata import version

    mem_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as f:
        mem_kib = int(f.readline().split()[1])
    libs = ("python-socketio", "python-engineio", "uvicorn", "websockets", "sqlalchemy", "redis")
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in libs},
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- server processes ---------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One server process on a free port; its output goes to a log file, shown if it fails."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.argv = [*argv, "--port", str(self.port)]
        self.env = {**os.environ, **env, "ECABINET_HOST": "127.0.0.1"}
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> ServerProcess:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def ecabinet_server(name: str, log_dir: Path, env: dict[str, str]) -> ServerProcess:
    return ServerProcess(name, [sys.executable, "-m", "ecabinet", "serve"], env, log_dir)


def bare_server(name: str, log_dir: Path, redis_url: str | None = None,
                channel: str | None = None) -> ServerProcess:
    argv = [sys.executable, "-m", "benchmarks.harness", "bare"]
    if redis_url:
        argv += ["--redis-url", redis_url, "--channel", channel or "bench"]
    return ServerProcess(name, argv, {}, log_dir)


BENCH_SECRET = "benchmark-secret-key-0123456789"


def ecabinet_servers(label: str, data: Path, database_url: str, log_dir: Path, *,
                     scaled: bool) -> list[ServerProcess]:
    """One embedded server, or (scaled) two sharing the database and a fresh Redis channel;
    started and answering."""
    env = {
        "ECABINET_DATA_DIR": str(data),
        "ECABINET_DATABASE_URL": database_url,
        "ECABINET_SECRET_KEY": BENCH_SECRET,
        "ECABINET_MIGRATE_ON_START": "false",
    }
    if scaled:
        env |= {"ECABINET_REDIS_URL": REDIS_URL,
                "ECABINET_REDIS_CHANNEL": f"ecabinet-bench-{uuid.uuid4().hex}"}
    servers = [ecabinet_server(f"{label}-{name}", log_dir, env)
               for name in (("a", "b") if scaled else ("a",))]
    start_all(servers)
    return servers


def start_all(servers: Iterable[ServerProcess]) -> None:
    started = [s.start() for s in servers]
    try:
        for server in started:
            server.wait_ready()
    except BaseException:
        for server in started:
            server.stop()
        raise


# --- the bare python-socketio server ------------------------------------------------------------


def bare_app(redis_url: str | None, channel: str) -> Any:
    """python-socketio with nothing of ours: join a room, broadcast what you are given."""
    import socketio
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    manager = (
        socketio.AsyncRedisManager(redis_url, channel=channel) if redis_url
        else socketio.AsyncManager()
    )
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager,
                               cors_allowed_origins=[], ping_interval=20, ping_timeout=20)

    async def join(sid: str, _data: Any = None) -> dict[str, Any]:
        await sio.enter_room(sid, BARE_ROOM)
        return {"ok": True}

    async def broadcast(sid: str, data: Any = None) -> dict[str, Any]:
        await sio.emit("event", data, room=BARE_ROOM)
        return {"ok": True}

    sio.on("join", join)
    sio.on("broadcast", broadcast)

    async def healthz(_request: Any) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return socketio.ASGIApp(sio, other_asgi_app=Starlette(routes=[Route("/healthz", healthz)]))


def serve_bare(port: int, redis_url: str | None, channel: str) -> None:
    import uvicorn

    from ecabinet.cli import uvicorn_options

    uvicorn.run(bare_app(redis_url, channel), **uvicorn_options("127.0.0.1", port))


# --- a meeting with many delegates --------------------------------------------------------------


@dataclass
class Meeting:
    meeting_id: int
    chair_token: str
    delegate_tokens: list[str]


def prepare_meeting(database_url: str, data_dir: Path, delegates: int, items: int) -> Meeting:
    """A published meeting with a chair, ``delegates`` delegates (each with a sign-in token) and
    ``items`` agenda items, written into a freshly migrated database."""
    from ecabinet.app import open_database
    from ecabinet.core.settings import Settings
    from ecabinet.services import accounts, packs
    from ecabinet.storage.models import User

    settings = Settings(data_dir=data_dir, database_url=database_url,
                        secret_key="benchmark-secret-key-0123456789").prepare()
    db = open_database(settings)
    # One real (slow, argon2) hash shared by every account: sign-in is not what is measured.
    shared_hash = accounts.hash_password(uuid.uuid4().hex)
    names = ["chutich"] + [f"daibieu{i:04d}" for i in range(delegates)]

    def build(session: Any) -> Meeting:
        users = [User(username=n, full_name=f"Đại biểu {n}", password_hash=shared_hash)
                 for n in names]
        session.add_all(users)
        session.flush()
        spec = packs.PackSpec.model_validate({
            "meeting": {"title": "Phiên họp đo hiệu năng", "body": "Ủy ban nhân dân tỉnh"},
            "participants": [{"user": "chutich", "role": "chair"}]
            + [{"user": n, "role": "delegate"} for n in names[1:]],
            "agenda": [{"title": f"Nội dung số {i + 1}: báo cáo và thảo luận"}
                       for i in range(items)],
        })
        meeting = packs.import_pack(session, spec)
        meeting.status = "published"
        session.add(meeting)
        tokens = [accounts.open_session(session, u, days=1, kind="token") for u in users]
        session.flush()
        assert meeting.id is not None
        return Meeting(meeting.id, tokens[0], tokens[1:])

    try:
        built: Meeting = db.run_sync(build)
        return built
    finally:
        db.close()


@contextlib.contextmanager
def postgres_schema() -> Any:
    """A fresh PostgreSQL schema for a scaled run; dropped afterwards."""
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# --- the lean client ----------------------------------------------------------------------------


class SocketError(Exception):
    pass


class LeanClient:
    """One Socket.IO connection over a raw websocket."""

    def __init__(self, url: str, auth: dict[str, Any] | None, index: int = 0,
                 on_event: Any = None) -> None:
        self.ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.auth = auth
        self.index = index  # which server of the fleet it talks to
        self.on_event = on_event
        self.seq: int | None = None
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self._ws = await connect(self.ws_url, compression=None, ping_interval=None, proxy=None,
                                 open_timeout=60, close_timeout=1, max_size=2**22,
                                 user_agent_header=None)
        opening = await self._ws.recv()
        if not opening.startswith("0"):
            raise SocketError(f"unexpected Engine.IO opening {opening[:80]!r}")
        await self._ws.send("40" + (json.dumps(self.auth) if self.auth else ""))
        while True:
            answer = await self._ws.recv()
            if answer == "2":
                await self._ws.send("3")
                continue
            break
        if not answer.startswith("40"):
            raise SocketError(f"connection refused: {answer[:200]}")
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        ws = self._ws
        try:
            async for message in ws:
                if message.startswith("42"):
                    received = time.time()
                    _name, envelope = json.loads(message[2:])
                    if self.seq is not None and envelope.get("seq") == self.seq + 1:
                        self.seq += 1  # a tablet keeps the last sequence number it applied
                    if self.on_event is not None:
                        self.on_event(self, received, envelope)
                elif message.startswith("43"):
                    body = message[2:]
                    split = body.index("[")
                    future = self._acks.pop(int(body[:split]), None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(body[split:])[0])
                elif message == "2":
                    await ws.send("3")
        except (ConnectionClosed, OSError):
            pass
        finally:
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(SocketError("connection lost"))
            self._acks.clear()

    async def call(self, name: str, payload: dict[str, Any], timeout: float = 60) -> Any:
        from websockets.exceptions import ConnectionClosed

        ack_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        try:
            await self._ws.send(f"42{ack_id}" + json.dumps([name, payload], ensure_ascii=False))
        except ConnectionClosed as exc:
            self._acks.pop(ack_id, None)
            raise SocketError("connection lost") from exc
        return await asyncio.wait_for(future, timeout)

    def abort(self) -> None:
        """Drop the link without a goodbye (the tablet's Wi-Fi is gone)."""
        if self._ws is not None:
            self._ws.transport.abort()

    async def wait_closed(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        await self.wait_closed()

    async def join(self, meeting_id: int | None) -> Any:
        """Join the meeting (``since`` the last sequence seen, if any) or the bare room."""
        if meeting_id is None:
            return await self.call("join", {})
        body: dict[str, Any] = {"meeting_id": meeting_id}
        if self.seq is not None:
            body["since"] = self.seq
        answer = await self.call("meeting.join", body)
        if not answer.get("ok"):
            raise SocketError(f"join refused: {answer}")
        if answer["mode"] == "events":
            seqs = [ev["seq"] for ev in answer["events"]]
            if seqs != list(range(self.seq + 1, answer["seq"] + 1)):  # type: ignore[operator]
                raise SocketError(f"resync from {self.seq} is not exact: {seqs}")
        self.seq = answer["seq"]
        return answer

    async def command(self, name: str, meeting_id: int, **fields: Any) -> Any:
        answer = await self.call(name, {"meeting_id": meeting_id,
                                        "client_id": uuid.uuid4().hex, **fields})
        if not answer.get("ok"):
            raise SocketError(f"{name} refused: {answer}")
        return answer


# --- a fleet of lean clients in worker processes ------------------------------------------------


@dataclass
class Job:
    urls: list[str]
    tokens: list[str | None]  # one per client; None for the bare server
    meeting_id: int | None
    since: int | None  # the sequence number the clients' first join starts from


@dataclass
class Rejoined:
    times: list[float]  # when each client had rejoined and resynced
    retries: int
    resynced_events: int  # events delivered through the re-joins, summed over clients


class _Worker:
    def __init__(self, conn: Connection, job: Job, first_index: int) -> None:
        self.conn = conn
        self.job = job
        self.clients = [
            LeanClient(job.urls[(first_index + i) % len(job.urls)],
                       {"token": token} if token else None,
                       (first_index + i) % len(job.urls), self._on_event)
            for i, token in enumerate(job.tokens)
        ]
        for client in self.clients:
            client.seq = job.since
        self.receipts: dict[Any, list[tuple[float, int]]] = {}
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()

    def _on_event(self, client: LeanClient, received: float, envelope: dict[str, Any]) -> None:
        key = envelope.get("seq")
        if key is None:  # a stream event outside the log (live ink): keyed by its batch number
            key = (envelope.get("payload") or {}).get("n")
        got = self.receipts.setdefault(key, [])
        got.append((received, client.index))
        if len(got) == len(self.clients):
            self.conn.send(("got", key, self.receipts.pop(key)))

    async def _open(self, client: LeanClient, gate: asyncio.Semaphore | None) -> float:
        async with gate if gate is not None else contextlib.nullcontext():
            await client.connect()
            await client.join(self.job.meeting_id)
        return time.time()

    async def _reopen(self, client: LeanClient) -> tuple[float, int, int]:
        """Reconnect and re-join like a tablet whose Wi-Fi came back: retry until it works."""
        from websockets.exceptions import WebSocketException

        retries = 0
        before = client.seq
        while True:
            try:
                await client.connect()
                answer = await client.join(self.job.meeting_id)
                break
            except (TimeoutError, SocketError, OSError, WebSocketException):
                retries += 1
                client.abort()
                await asyncio.sleep(0.05 * min(retries, 10))
        events = len(answer.get("events", [])) if before is not None else 0
        return time.time(), retries, events

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), lambda: self.inbox.put_nowait(self.conn.recv()))
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        await asyncio.gather(*(self._open(c, gate) for c in self.clients))
        gc.collect()
        gc.freeze()  # the clients are long-lived; the collector need not re-scan them
        self.conn.send(("ready", [c.seq for c in self.clients]))
        while True:
            order = await self.inbox.get()
            if order[0] == "drop":
                for client in self.clients:
                    client.abort()
                await asyncio.gather(*(c.wait_closed() for c in self.clients))
                self.conn.send(("dropped", None))
            elif order[0] == "reconnect":
                results = await asyncio.gather(*(self._reopen(c) for c in self.clients))
                self.conn.send(("rejoined", results))
            elif order[0] == "close":
                await asyncio.gather(*(c.close() for c in self.clients))
                loop.remove_reader(self.conn.fileno())
                self.conn.send(("closed", None))
                return


def _worker_main(conn: Connection, job: Job, first_index: int) -> None:
    try:
        asyncio.run(_Worker(conn, job, first_index).run())
    except BaseException as exc:  # report, do not hang the parent
        with contextlib.suppress(OSError):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        raise


class Fleet:
    """N lean clients spread round-robin over ``urls`` and over ``workers`` processes.

    With ``since``, the clients' first join asks for the events after that sequence number, as
    tablets that already hold the meeting's state do, instead of a full snapshot each.
    """

    def __init__(self, urls: list[str], tokens: list[str | None], meeting_id: int | None,
                 workers: int, since: int | None = None) -> None:
        self.urls = urls
        self.size = len(tokens)
        self.meeting_id = meeting_id
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        self.inbox: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        self.pending: dict[Any, list[tuple[float, int]]] = {}
        self.counts: dict[Any, int] = {}
        self.finished: set[int] = set()
        context = multiprocessing.get_context("spawn")
        share = math.ceil(self.size / max(1, min(workers, self.size)))
        for first in range(0, self.size, share):
            parent, child = context.Pipe()
            job = Job(urls, tokens[first:first + share], meeting_id, since)
            proc = context.Process(target=_worker_main, args=(child, job, first), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def _pump(self, worker: int) -> None:
        try:
            message = self.conns[worker].recv()
        except EOFError:
            asyncio.get_running_loop().remove_reader(self.conns[worker].fileno())
            if worker in self.finished:
                return
            message = ("failed", "the worker process exited")
        if message[0] == "closed":
            self.finished.add(worker)
        self.inbox.put_nowait((worker, message))

    async def _next(self, timeout: float) -> tuple[int, Any]:
        worker, message = await asyncio.wait_for(self.inbox.get(), max(timeout, 0.001))
        if message[0] == "failed":
            raise RuntimeError(f"client worker {worker} failed: {message[1]}")
        if message[0] == "got":  # an event receipt: keep it for ``receipts``
            self.pending.setdefault(message[1], []).extend(message[2])
            self.counts[message[1]] = self.counts.get(message[1], 0) + 1
        return worker, message

    async def _collect(self, kind: str, timeout: float) -> list[Any]:
        """One ``kind`` reply from every worker, in worker order."""
        replies: dict[int, Any] = {}
        deadline = time.monotonic() + timeout
        while len(replies) < len(self.conns):
            worker, message = await self._next(deadline - time.monotonic())
            if message[0] == kind:
                replies[worker] = message[1]
            elif message[0] != "got":
                raise RuntimeError(f"worker {worker} answered {message[0]}, expected {kind}")
        return [replies[w] for w in sorted(replies)]

    async def start(self, timeout: float = 300) -> list[int | None]:
        """Wait until every client is connected and joined; their sequence numbers."""
        loop = asyncio.get_running_loop()
        for worker, conn in enumerate(self.conns):
            loop.add_reader(conn.fileno(), self._pump, worker)
        return [seq for part in await self._collect("ready", timeout) for seq in part]

    async def receipts(self, key: Any, timeout: float = 60) -> list[tuple[float, int]]:
        """When each client received the event with this ``seq`` (and which server it is on)."""
        deadline = time.monotonic() + timeout
        while self.counts.get(key, 0) < len(self.conns):
            worker, message = await self._next(deadline - time.monotonic())
            if message[0] != "got":
                raise RuntimeError(f"worker {worker} sent {message[0]} while events were due")
        self.counts.pop(key)
        return self.pending.pop(key)

    async def order(self, order: str, reply: str, timeout: float = 300) -> list[Any]:
        for conn in self.conns:
            conn.send((order,))
        return await self._collect(reply, timeout)

    async def drop(self) -> None:
        """Every client loses its link at once, without a goodbye."""
        await self.order("drop", "dropped")

    async def reconnect(self) -> Rejoined:
        """Every client reconnects and re-joins at once (with ``since`` on ecabinet)."""
        results = [r for part in await self.order("reconnect", "rejoined") for r in part]
        return Rejoined([r[0] for r in results], sum(r[1] for r in results),
                        sum(r[2] for r in results))

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.order("close", "closed", timeout=30)
        except Exception as exc:
            print(f"closing the client workers failed: {exc!r}", file=sys.stderr)
        for conn in self.conns:
            with contextlib.suppress(Exception):
                loop.remove_reader(conn.fileno())
            conn.close()
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()


@dataclass
class Scratch:
    """A temporary folder for one run's data and logs."""

    path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ecabinet-bench-")))

    def cleanup(self) -> None:
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)


def print_result(summary_lines: list[str], result: dict[str, Any]) -> None:
    """The human summary, then the one JSON object as the last line."""
    for line in summary_lines:
        print(line)
    print(json.dumps(result, ensure_ascii=False, sort_keys=False))
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.harness")
    sub = parser.add_subparsers(dest="command", required=True)
    bare = sub.add_parser("bare", help="run the bare python-socketio server")
    bare.add_argument("--port", type=int, required=True)
    bare.add_argument("--redis-url")
    bare.add_argument("--channel", default="bench")
    args = parser.parse_args(argv)
    serve_bare(args.port, args.redis_url, args.channel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
