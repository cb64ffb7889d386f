"""Live ink: the presenter draws at 60 points a second while N tablets follow.

    python -m benchmarks.ink_stream                      # N = 500, 10 batches a second
    python -m benchmarks.ink_stream --n 10 --seconds 1 --rounds 1   # a smoke run

The chair presents a page and draws one long stroke: ``--points`` points a second sent as
``--hz`` batches a second (``ink.draw``, 6 points a batch by default, as a tablet that sends what
it drew every 100 ms). N lean Socket.IO clients (``benchmarks.harness.Fleet``) joined as
delegates record when each ``ink.stroke`` batch arrives; a batch's latency on a client is that
time minus the moment the chair sent it (the ack is not waited for: batches go out on their
schedule). In the same run the bare python-socketio server broadcasts the very same envelopes,
at the same rate, to the same number of clients when a trigger client asks it to. Both servers
and their followers run side by side and the measured time alternates between them in
``--rounds`` segments (after a second of warm-up each), so that load from elsewhere on the
machine weighs on both alike.

Reported for each: delivery latency p50/p99/max over every client and batch, and the server
process's CPU share while streaming (user + system time from /proc/<pid>/stat over wall time;
1.0 is one core) with its cost per batch and per recipient. The last line printed is one JSON
object; ``p99_ratio`` is ours over bare (target: at most 1.25).

Why batches: a python-socketio broadcast costs about 100 µs of server time per recipient
(shared/PERFORMANCE.md), so 60 messages a second to 500 tablets would need three cores for the
sending alone. Ten batches a second keep the stroke smooth (points are drawn as they arrive) and
the server well inside one core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    Fleet,
    LeanClient,
    Scratch,
    ServerProcess,
    bare_server,
    cpu_seconds,
    ecabinet_server,
    latency_summary,
    machine,
    prepare_meeting,
    print_result,
    ratio,
    start_all,
)

TARGET_N = 500
TARGET_P99_RATIO = 1.25
SECRET = "benchmark-secret-key-0123456789"
PAGE = (595.0, 842.0)
WARM_UP = 1.0  # seconds streamed before measuring


def add_document(database_url: str, data_dir: Path, meeting_id: int) -> int:
    """A one-page PDF in the meeting, stored and marked rendered, to present and draw on."""
    import pymupdf

    from ecabinet.app import open_database
    from ecabinet.core.settings import Settings
    from ecabinet.storage.blobs import BlobStore
    from ecabinet.storage.models import Blob, Document

    doc = pymupdf.open()
    doc.new_page(width=PAGE[0], height=PAGE[1]).insert_text((72, 100), "Ink benchmark")
    pdf: bytes = doc.tobytes()
    doc.close()
    settings = Settings(data_dir=data_dir, database_url=database_url, secret_key=SECRET,
                        migrate_on_start=False).prepare()
    sha = BlobStore(settings.data_dir).put_bytes(pdf)
    db = open_database(settings)

    def write(session: Any) -> int:
        session.add(Blob(sha256=sha, size=len(pdf), media_type="application/pdf", page_count=1,
                         page_sizes=[list(PAGE)], status="ready", pages_ready=1))
        session.flush()
        row = Document(meeting_id=meeting_id, blob_sha256=sha, title="Sơ đồ",
                       filename="so-do.pdf")
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id

    try:
        document_id: int = db.run_sync(write)
        return document_id
    finally:
        db.close()


def stroke_points(first: int, count: int) -> list[list[float]]:
    """Points along a spiral over the page, point ``first`` onwards."""
    out = []
    for i in range(first, first + count):
        angle = i / 15
        radius = 40 + (i % 600) / 2.5
        out.append([round(PAGE[0] / 2 + radius * math.cos(angle), 2),
                    round(PAGE[1] / 2 + radius * math.sin(angle), 2)])
    return out


class Stream:
    """Sends batch after batch on a fixed schedule; remembers when each went out."""

    def __init__(self, hz: float, per_batch: int) -> None:
        self.hz = hz
        self.per_batch = per_batch
        self.sent: dict[int, float] = {}
        self.calls: list[asyncio.Task[Any]] = []
        self.n = 0

    async def run(self, seconds: float, send: Any) -> list[int]:
        """Send for ``seconds``; the batch numbers sent."""
        start = time.monotonic()
        count = max(1, round(seconds * self.hz))
        numbers = []
        for k in range(count):
            due = start + k / self.hz
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            n = self.n
            self.n += 1
            points = stroke_points(n * self.per_batch, self.per_batch)
            self.sent[n] = time.time()
            self.calls.append(asyncio.get_running_loop().create_task(send(n, points)))
            numbers.append(n)
        await asyncio.gather(*self.calls)
        self.calls.clear()
        return numbers


@dataclass
class Side:
    """One server under test with its followers, and how to send it a batch."""

    label: str
    server: ServerProcess
    sender: LeanClient
    fleet: Fleet
    send: Callable[[int, list[list[float]]], Awaitable[None]]
    stream: Stream
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0
    wall: float = 0.0
    batches: int = 0

    async def segment(self, seconds: float, *, measured: bool = True) -> None:
        cpu_before, wall_before = cpu_seconds(self.server.pid), time.monotonic()
        numbers = await self.stream.run(seconds, self.send)
        for n in numbers:
            for received, _server in await self.fleet.receipts(n):
                if measured:
                    self.latencies.append(received - self.stream.sent[n])
        if measured:
            self.cpu += cpu_seconds(self.server.pid) - cpu_before
            self.wall += time.monotonic() - wall_before
            self.batches += len(numbers)

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = latency_summary(self.latencies)
        out["batches"] = self.batches
        out["server_cpu_share"] = round(self.cpu / self.wall, 3)
        out["server_cpu_ms_per_batch"] = round(self.cpu * 1000 / self.batches, 2)
        out["server_cpu_us_per_recipient"] = round(
            self.cpu * 1e6 / self.batches / self.fleet.size, 1)
        return out

    async def close(self) -> None:
        await self.fleet.close()
        await self.sender.close()
        self.server.stop()


def envelope_of(meeting_id: int, document_id: int, n: int, points: list[list[float]],
                user_id: int) -> dict[str, Any]:
    """What ``ink.stroke`` looks like on the wire (for the bare server to send as is)."""
    return {
        "meeting_id": meeting_id, "seq": None, "type": "ink.stroke",
        "payload": {"stroke": f"bench-{n // 500}", "n": n, "document_id": document_id,
                    "page": 0, "points": points, "colour": "#E53935", "width": 3.0,
                    "done": False, "by": user_id},
        "at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
    }


async def open_ecabinet(args: argparse.Namespace, scratch: Scratch,
                        sides: list[Side]) -> dict[str, int]:
    data = scratch.path / "ecabinet"
    database_url = f"sqlite:///{data / 'ecabinet.sqlite3'}"
    meeting = prepare_meeting(database_url, data, args.n, items=1)
    document_id = add_document(database_url, data, meeting.meeting_id)
    env = {"ECABINET_DATA_DIR": str(data), "ECABINET_DATABASE_URL": database_url,
           "ECABINET_SECRET_KEY": SECRET, "ECABINET_MIGRATE_ON_START": "false",
           "ECABINET_RENDER_WORKERS": "1"}
    server = ecabinet_server("ink-ecabinet", scratch.path, env)
    start_all([server])
    chair = LeanClient(server.url, {"token": meeting.chair_token})
    mid = meeting.meeting_id
    try:
        await chair.connect()
        joined = await chair.join(mid)
        user_id = int(joined["snapshot"]["meeting"]["you"]["user_id"])
        await chair.command("meeting.start", mid)
        await chair.command("present.page", mid, document_id=document_id, page=0)
        fleet = Fleet([server.url], list(meeting.delegate_tokens), mid, args.workers)
    except BaseException:
        await chair.close()
        server.stop()
        raise

    async def send(n: int, points: list[list[float]]) -> None:
        answer = await chair.call("ink.draw", {
            "meeting_id": mid, "stroke": f"bench-{n // 500}", "n": n,
            "document_id": document_id, "page": 0, "points": points,
            "colour": "#E53935", "width": 3.0})
        if not answer.get("ok"):
            raise RuntimeError(f"ink.draw refused: {answer}")

    sides.append(Side("ecabinet", server, chair, fleet, send, Stream(args.hz, args.per_batch)))
    await fleet.start()
    return {"meeting_id": mid, "document_id": document_id, "user_id": user_id}


async def open_bare(args: argparse.Namespace, scratch: Scratch, ids: dict[str, int],
                    sides: list[Side]) -> None:
    server = bare_server("ink-bare", scratch.path)
    start_all([server])
    trigger = LeanClient(server.url, None)
    try:
        await trigger.connect()
        await trigger.join(None)
        fleet = Fleet([server.url], [None] * args.n, None, args.workers)
    except BaseException:
        await trigger.close()
        server.stop()
        raise

    async def send(n: int, points: list[list[float]]) -> None:
        envelope = envelope_of(ids["meeting_id"], ids["document_id"], n, points, ids["user_id"])
        await trigger.call("broadcast", {**envelope, "seq": n})

    sides.append(Side("bare", server, trigger, fleet, send, Stream(args.hz, args.per_batch)))
    await fleet.start()


def _line(label: str, r: dict[str, Any]) -> str:
    return (f"  {label:<9} p50 {r['p50_ms']:>7.1f} ms   p99 {r['p99_ms']:>7.1f} ms   "
            f"max {r['max_ms']:>7.1f} ms   server CPU {r['server_cpu_share'] * 100:>5.1f} % "
            f"({r['server_cpu_us_per_recipient']:.0f} µs/recipient)")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Both servers run side by side; the measured time alternates between them in
    ``--rounds`` segments, so that load from elsewhere on the machine weighs on both alike."""
    scratch = Scratch()
    sides: list[Side] = []
    try:
        ids = await open_ecabinet(args, scratch, sides)
        await open_bare(args, scratch, ids, sides)
        for side in sides:
            await side.segment(WARM_UP, measured=False)
        for _round in range(args.rounds):
            for side in sides:
                await side.segment(args.seconds / args.rounds)
        ours, bare = (side.result() for side in sides)
    finally:
        for side in sides:
            with contextlib.suppress(Exception):
                await side.close()
        scratch.cleanup()
    p99 = ratio(ours["p99_ms"], bare["p99_ms"])
    met = p99 <= TARGET_P99_RATIO if args.n == TARGET_N else None
    lines = [
        f"Live ink: N = {args.n} followers, {args.points} points/s in {args.hz:g} batches/s "
        f"({args.per_batch} points each), {args.seconds:g} s measured in {args.rounds} "
        "alternating segments",
        _line("ecabinet", ours), _line("bare", bare),
        f"  p99 ratio {p99}, p50 ratio {ratio(ours['p50_ms'], bare['p50_ms'])}"
        + ("" if met is None else f"; target <= {TARGET_P99_RATIO}: "
           f"{'met' if met else 'MISSED'}"),
    ]
    result = {
        "benchmark": "ink_stream",
        "command": "python -m benchmarks.ink_stream " + " ".join(sys.argv[1:]),
        "n": args.n,
        "points_per_second": args.points,
        "batches_per_second": args.hz,
        "points_per_batch": args.per_batch,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "ours": ours,
        "bare": bare,
        "p99_ratio": p99,
        "p50_ratio": ratio(ours["p50_ms"], bare["p50_ms"]),
        "target": {"n": TARGET_N, "max_p99_ratio": TARGET_P99_RATIO, "met": met},
        "machine": machine(),
    }
    print_result(lines, result)
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ink_stream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=TARGET_N, help="following tablets (500)")
    parser.add_argument("--points", type=int, default=60, help="points drawn a second (60)")
    parser.add_argument("--hz", type=float, default=10.0, help="batches sent a second (10)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="measured seconds on each server (20)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating segments the measured time is cut into (5)")
    parser.add_argument("--workers", type=int, default=4, help="client processes (4)")
    args = parser.parse_args(argv)
    args.per_batch = max(1, round(args.points / args.hz))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
