"""Vote storm: N tablets cast their ballots at the same moment; then the result is published.

    python -m benchmarks.vote_storm                      # N = 1000, SQLite, a named poll
    python -m benchmarks.vote_storm --db postgresql      # the same on PostgreSQL
    python -m benchmarks.vote_storm --n 20 --secret      # a smoke run of a secret poll

N lean Socket.IO clients (``benchmarks.harness.LeanClient``, spread over worker processes) sign in
as N delegates, all checked in, and join the meeting (from the chair's sequence number, as the
fan-out benchmark does: ``harness.JOIN_NOTE``). The chair opens a poll; every client sends
``poll.cast`` at once and records when its ack arrives. "Ack storm" is the time from the order to
cast until the last ack is back: every ballot committed (group commit) and acknowledged. Then the
chair closes the poll (the result is checked against the choices sent) and publishes it: "publish"
is the time until every client has ``poll.published``, which carries the named list of N votes.

In the same run a bare python-socketio server (same uvicorn settings) answers an ack storm from
the same number of clients (each emits one event with an ack) and broadcasts the very same
``poll.published`` envelope. One warm-up poll (and a warm-up storm and broadcast on the bare
server) runs before the measured one. Targets: ack storm within 3 times the bare storm, publish
within 1.25 times the bare broadcast. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import multiprocessing
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    CONNECT_CONCURRENCY,
    LeanClient,
    Scratch,
    bare_server,
    cpu_seconds,
    ecabinet_server,
    latency_summary,
    machine,
    postgres_schema,
    prepare_meeting,
    print_result,
    ratio,
    start_all,
)

SECRET_KEY = "benchmark-secret-key-0123456789"
TARGET_ACK_RATIO = 3.0
TARGET_PUBLISH_RATIO = 1.25
CHOICES = ("yes", "no", "abstain")


def choice_of(index: int) -> str:
    """The ballot of client ``index``: a fixed mix, so the expected totals are known."""
    return CHOICES[0] if index % 5 < 3 else CHOICES[1 + index % 2]


def expected_totals(n: int) -> dict[str, int]:
    totals = dict.fromkeys(CHOICES, 0)
    for i in range(n):
        totals[choice_of(i)] += 1
    return totals


# --- client worker processes --------------------------------------------------------------------


@dataclass
class Job:
    url: str
    tokens: list[str | None]  # None: the bare server
    first: int  # global index of the first client
    meeting_id: int | None
    since: int | None = None  # the first join asks for the events after this (JOIN_NOTE)


class _Worker:
    def __init__(self, conn: Connection, job: Job) -> None:
        self.conn = conn
        self.job = job
        self.clients = [
            LeanClient(job.url, {"token": t} if t else None, job.first + i, self._on_event)
            for i, t in enumerate(job.tokens)
        ]
        for client in self.clients:
            client.seq = job.since
        # (event type, poll id) -> client index -> first receive time
        self.seen: dict[tuple[str, Any], dict[int, float]] = {}
        self.sample: dict[tuple[str, Any], Any] = {}
        self.changed = asyncio.Event()
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()

    def _on_event(self, client: LeanClient, received: float, envelope: dict[str, Any]) -> None:
        payload = envelope.get("payload") or {}
        poll = payload.get("poll") if isinstance(payload, dict) else None
        key = (envelope.get("type"), poll.get("id") if isinstance(poll, dict) else None)
        seen = self.seen.setdefault(key, {})
        if client.index not in seen:
            seen[client.index] = received
            if client.index == self.job.first and key[0] == "poll.published":
                self.sample[key] = payload
            self.changed.set()

    async def _open(self, client: LeanClient, gate: asyncio.Semaphore) -> None:
        async with gate:
            await client.connect()
            await client.join(self.job.meeting_id)

    async def _cast(self, client: LeanClient, poll_id: int | None) -> tuple[float, Any]:
        if poll_id is None:  # the bare server: one event with an ack
            answer = await client.call("join", {})
        else:
            answer = await client.call("poll.cast", {
                "meeting_id": self.job.meeting_id, "client_id": uuid.uuid4().hex,
                "poll_id": poll_id, "choice": [choice_of(client.index)]})
        return time.time(), answer

    async def _watch(self, key: tuple[str, Any]) -> list[float]:
        while len(self.seen.get(key, {})) < len(self.clients):
            self.changed.clear()
            await self.changed.wait()
        return list(self.seen[key].values())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), lambda: self.inbox.put_nowait(self.conn.recv()))
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        await asyncio.gather(*(self._open(c, gate) for c in self.clients))
        gc.collect()
        gc.freeze()
        self.conn.send(("ready", None))
        while True:
            order = await self.inbox.get()
            if order[0] == "cast":
                results = await asyncio.gather(*(self._cast(c, order[1]) for c in self.clients))
                failures = [a for _t, a in results if not (isinstance(a, dict) and a.get("ok"))]
                self.conn.send(("cast", ([t for t, _a in results], failures[:5], len(failures))))
            elif order[0] == "watch":
                key = tuple(order[1])
                times = await self._watch(key)  # type: ignore[arg-type]
                self.conn.send(("watch", (times, self.sample.pop(key, None))))
            elif order[0] == "close":
                await asyncio.gather(*(c.close() for c in self.clients))
                loop.remove_reader(self.conn.fileno())
                self.conn.send(("close", None))
                return


def _worker_main(conn: Connection, job: Job) -> None:
    try:
        asyncio.run(_Worker(conn, job).run())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        raise


class Voters:
    """N clients over ``workers`` processes; orders go to all workers at once."""

    def __init__(self, url: str, tokens: list[str | None], meeting_id: int | None,
                 workers: int, since: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        share = math.ceil(len(tokens) / max(1, min(workers, len(tokens))))
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for first in range(0, len(tokens), share):
            parent, child = context.Pipe()
            job = Job(url, tokens[first:first + share], first, meeting_id, since)
            proc = context.Process(target=_worker_main, args=(child, job), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    async def _replies(self, kind: str, timeout: float) -> list[Any]:
        loop = asyncio.get_running_loop()

        def wait_all() -> list[Any]:
            out = []
            for conn in self.conns:
                if not conn.poll(timeout):
                    raise TimeoutError(f"a client worker did not answer {kind!r}")
                message = conn.recv()
                if message[0] != kind:
                    raise RuntimeError(f"a client worker answered {message} to {kind!r}")
                out.append(message[1])
            return out

        return await loop.run_in_executor(None, wait_all)

    async def order(self, *order: Any, timeout: float = 300) -> list[Any]:
        for conn in self.conns:
            conn.send(order)
        return await self._replies(order[0], timeout)

    async def start(self) -> None:
        await self._replies("ready", 300)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.order("close", timeout=30)
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()


async def storm(voters: Voters, poll_id: int | None) -> dict[str, Any]:
    """Everyone casts (or, bare, emits with an ack) at once; time until the last ack."""
    sent = time.time()
    replies = await voters.order("cast", poll_id)
    times = [t for part in replies for t in part[0]]
    failures = sum(part[2] for part in replies)
    examples = [f for part in replies for f in part[1]][:3]
    out = {"all_ms": round((max(times) - sent) * 1000, 1), **latency_summary(
        [t - sent for t in times]), "failures": failures}
    if examples:
        out["failure_examples"] = examples
    return out


async def watch(voters: Voters, key: tuple[str, Any], sent: float) -> tuple[dict[str, Any], Any]:
    replies = await voters.order("watch", list(key))
    times = [t for part in replies for t in part[0]]
    sample = next((part[1] for part in replies if part[1] is not None), None)
    return {"all_ms": round((max(times) - sent) * 1000, 1),
            **latency_summary([t - sent for t in times])}, sample


# --- ecabinet -----------------------------------------------------------------------------------


def check_everyone_in(database_url: str, data_dir: Path, meeting_id: int) -> None:
    """All participants present, so the quorum is there (the attendance tests cover check-in)."""
    from sqlmodel import select

    from ecabinet.app import open_database
    from ecabinet.core.settings import Settings
    from ecabinet.storage.models import Attendance, Participant

    settings = Settings(data_dir=data_dir, database_url=database_url,
                        secret_key=SECRET_KEY, migrate_on_start=False).prepare()
    db = open_database(settings)

    def mark(session: Any) -> None:
        for p in session.exec(select(Participant).where(Participant.meeting_id == meeting_id)):
            session.add(Attendance(meeting_id=meeting_id, participant_id=p.id))

    try:
        db.run_sync(mark)
    finally:
        db.close()


async def run_ecabinet(n: int, workers: int, db: str, secret: bool, scratch: Scratch
                       ) -> tuple[dict[str, Any], dict[str, Any]]:
    data = scratch.path / f"ecabinet-{db}"
    with postgres_schema() if db == "postgresql" else contextlib.nullcontext() as pg_url:
        database_url = pg_url or f"sqlite:///{data / 'ecabinet.sqlite3'}"
        meeting = prepare_meeting(database_url, data, n, items=2)
        mid = meeting.meeting_id
        check_everyone_in(database_url, data, mid)
        env = {"ECABINET_DATA_DIR": str(data), "ECABINET_DATABASE_URL": database_url,
               "ECABINET_SECRET_KEY": SECRET_KEY, "ECABINET_MIGRATE_ON_START": "false"}
        server = ecabinet_server(f"ecabinet-{db}", scratch.path, env)
        start_all([server])
        published: dict[int, dict[str, Any]] = {}

        def keep(_client: LeanClient, _at: float, envelope: dict[str, Any]) -> None:
            if envelope.get("type") == "poll.published":
                published[envelope["payload"]["poll"]["id"]] = envelope

        chair = LeanClient(server.url, {"token": meeting.chair_token}, on_event=keep)
        voters: Voters | None = None
        try:
            await chair.connect()
            await chair.join(mid)
            await chair.command("meeting.start", mid)
            # As benchmarks.fanout: the fleet's first join asks for the events since the
            # chair's sequence number, not a snapshot that grows with N (harness.JOIN_NOTE).
            voters = Voters(server.url, list(meeting.delegate_tokens), mid, workers,
                            since=chair.seq)
            await voters.start()
            out: dict[str, Any] = {}
            for phase in ("warmup", "measured"):
                created = await chair.command(
                    "poll.create", mid, kind="yes_no_abstain", secret=secret,
                    question=f"Biểu quyết {phase}: thông qua kế hoạch năm?")
                poll_id = created["poll_id"]
                await chair.command("poll.open", mid, poll_id=poll_id)
                cpu = cpu_seconds(server.pid)
                cast = await storm(voters, poll_id)
                cast["server_cpu_ms"] = round((cpu_seconds(server.pid) - cpu) * 1000, 1)
                closed = await chair.command("poll.close", mid, poll_id=poll_id)
                totals = {o["id"]: o["votes"] for o in closed["result"]["options"]}
                sent = time.time()
                await chair.command("poll.publish", mid, poll_id=poll_id)
                shown, sample = await watch(voters, ("poll.published", poll_id), sent)
                out = {"ack_storm": cast, "publish": shown,
                       "result_exact": totals == expected_totals(n) and sample is not None
                       and sample["result"]["ballots"] == n}
            envelope = published[poll_id]
            return out, envelope
        except BaseException:
            print(f"--- the ecabinet server's log ends with:\n{server.output()}", file=sys.stderr)
            raise
        finally:
            if voters is not None:
                await voters.close()
            await chair.close()
            server.stop()


# --- bare python-socketio -----------------------------------------------------------------------


async def run_bare(n: int, workers: int, envelope: dict[str, Any], scratch: Scratch
                   ) -> dict[str, Any]:
    server = bare_server("bare", scratch.path)
    start_all([server])
    trigger = LeanClient(server.url, None)
    voters: Voters | None = None
    try:
        await trigger.connect()
        await trigger.join(None)
        voters = Voters(server.url, [None] * n, None, workers)
        await voters.start()
        out: dict[str, Any] = {}
        for phase, poll_id in (("warmup", -1), ("measured", envelope["payload"]["poll"]["id"])):
            cpu = cpu_seconds(server.pid)
            acks = await storm(voters, None)
            acks["server_cpu_ms"] = round((cpu_seconds(server.pid) - cpu) * 1000, 1)
            body = {**envelope, "payload": {**envelope["payload"],
                                            "poll": {**envelope["payload"]["poll"],
                                                     "id": poll_id}}}
            sent = time.time()
            await trigger.call("broadcast", body)
            shown, _sample = await watch(voters, ("poll.published", poll_id), sent)
            out = {"ack_storm": acks, "broadcast": shown, "phase": phase}
        out.pop("phase")
        return out
    finally:
        if voters is not None:
            await voters.close()
        await trigger.close()
        server.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    import json

    scratch = Scratch()
    try:
        ours, envelope = await run_ecabinet(args.n, args.workers, args.db, args.secret, scratch)
        bare = await run_bare(args.n, args.workers, envelope, scratch)
    finally:
        scratch.cleanup()
    ack_ratio = ratio(ours["ack_storm"]["all_ms"], bare["ack_storm"]["all_ms"])
    publish_ratio = ratio(ours["publish"]["all_ms"], bare["broadcast"]["all_ms"])
    met = {
        "ack": ack_ratio <= TARGET_ACK_RATIO and ours["ack_storm"]["failures"] == 0,
        "publish": publish_ratio <= TARGET_PUBLISH_RATIO,
        "result_exact": ours["result_exact"],
    }
    size = len(json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode())
    lines = [
        f"vote storm: N = {args.n}, {args.db}, {'secret' if args.secret else 'named'} poll, "
        f"{args.workers} client processes",
        f"  ack storm   ours {ours['ack_storm']['all_ms']:>8.1f} ms "
        f"(p50 {ours['ack_storm']['p50_ms']} ms, failures {ours['ack_storm']['failures']}, "
        f"server CPU {ours['ack_storm']['server_cpu_ms']} ms)   bare "
        f"{bare['ack_storm']['all_ms']:>8.1f} ms   ratio {ack_ratio} (target {TARGET_ACK_RATIO})",
        f"  publish     ours {ours['publish']['all_ms']:>8.1f} ms   bare broadcast "
        f"{bare['broadcast']['all_ms']:>8.1f} ms   ratio {publish_ratio} "
        f"(target {TARGET_PUBLISH_RATIO}; {size} bytes each)",
        f"  result exact: {ours['result_exact']}",
    ]
    result = {
        "benchmark": "vote_storm",
        "command": "python -m benchmarks.vote_storm " + " ".join(sys.argv[1:]),
        "n": args.n, "db": args.db, "secret": args.secret, "workers": args.workers,
        "ours": ours, "bare": bare, "published_bytes": size,
        "ack_ratio": ack_ratio, "publish_ratio": publish_ratio,
        "targets": {"ack_ratio": TARGET_ACK_RATIO, "publish_ratio": TARGET_PUBLISH_RATIO},
        "met": met,
        "machine": machine(),
    }
    print_result(lines, result)
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vote_storm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="voters (default 1000)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--secret", action="store_true", help="a secret poll instead of named")
    parser.add_argument("--workers", type=int, default=4, help="client processes (4)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(main_async(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
