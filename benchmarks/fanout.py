"""Fan-out: how long until every tablet has the chair's move to the next agenda item.

    python -m benchmarks.fanout                  # N = 100, 500, 1000, embedded (SQLite)
    python -m benchmarks.fanout --n 500 --scaled # also two processes with Redis and PostgreSQL

For each N: N lean Socket.IO clients (in several worker processes) sign in as N delegates and join
the meeting (from its current sequence number: ``harness.JOIN_NOTE``); the chair sends
``agenda.next`` and every client records when the ``agenda.current`` event arrives. The latency
of a client is that time minus the moment the chair sent the command, so it includes the command's
validation, transaction and commit, and the fan-out. In the same run
a bare python-socketio server (same uvicorn settings) broadcasts the very same event payload to
the same number of clients when a trigger client asks it to. Each configuration runs one warm-up
round and ``--rounds`` measured rounds; p50/p99/max are over every client of every measured round.

The last line printed is one JSON object; ``p99_ratio`` is ours over bare (target at N = 1000:
at most 1.25).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from benchmarks.harness import (
    REDIS_URL,
    Fleet,
    LeanClient,
    Scratch,
    bare_server,
    cpu_seconds,
    ecabinet_servers,
    latency_summary,
    machine,
    postgres_schema,
    prepare_meeting,
    print_result,
    ratio,
    start_all,
)

TARGET_N = 1000
TARGET_P99_RATIO = 1.25


async def _rounds(
    fleet: Fleet, trigger: Any, rounds: int, pause: float, pids: list[int]
) -> dict[str, Any]:
    """Run a warm-up and ``rounds`` measured rounds; ``trigger()`` sends one and returns its seq."""
    await fleet.receipts(await trigger())  # warm-up
    latencies: list[float] = []
    by_server: dict[int, list[float]] = {}
    cpu_before = sum(cpu_seconds(p) for p in pids)
    for _ in range(rounds):
        await asyncio.sleep(pause)
        sent = time.time()
        key = await trigger()
        for received, server in await fleet.receipts(key):
            latencies.append(received - sent)
            by_server.setdefault(server, []).append(received - sent)
    cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
    result: dict[str, Any] = latency_summary(latencies)
    result["server_cpu_ms_per_round"] = round(cpu * 1000 / rounds, 1)
    result["server_cpu_us_per_recipient"] = round(cpu * 1e6 / rounds / fleet.size, 1)
    if len(by_server) > 1:
        result["by_server"] = {
            "abc"[s]: latency_summary(v) for s, v in sorted(by_server.items())
        }
    return result


async def run_ecabinet(
    n: int, rounds: int, pause: float, workers: int, scratch: Scratch, *, scaled: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ours: embedded (one process, SQLite) or scaled (two processes, PostgreSQL, Redis)."""
    label = "scaled" if scaled else "embedded"
    data = scratch.path / f"{label}-{n}"
    with postgres_schema() if scaled else contextlib.nullcontext() as pg_url:
        database_url = pg_url or f"sqlite:///{data / 'ecabinet.sqlite3'}"
        meeting = prepare_meeting(database_url, data, n, items=rounds + 3)
        servers = ecabinet_servers(f"{label}-{n}", data, database_url, scratch.path,
                                   scaled=scaled)
        chair = LeanClient(servers[0].url, {"token": meeting.chair_token}, on_event=_keep_last)
        fleet: Fleet | None = None
        try:
            await chair.connect()
            began = time.perf_counter()
            snapshot = await chair.join(meeting.meeting_id)
            snapshot_join = {"ms": round((time.perf_counter() - began) * 1000, 1),
                             "bytes": len(_json(snapshot))}
            started = await chair.command("meeting.start", meeting.meeting_id)
            # From the current sequence number, not a snapshot each: see harness.JOIN_NOTE.
            fleet = Fleet([s.url for s in servers], list(meeting.delegate_tokens),
                          meeting.meeting_id, workers, since=started["seq"])
            await fleet.start()

            async def next_item() -> int:
                answer = await chair.command("agenda.next", meeting.meeting_id)
                return int(answer["seq"])

            result = await _rounds(fleet, next_item, rounds, pause, [s.pid for s in servers])
            result["snapshot_join"] = snapshot_join
            return result, _LAST[chair]
        finally:
            if fleet is not None:
                await fleet.close()
            await chair.close()
            for server in servers:
                server.stop()


async def run_bare(
    n: int, rounds: int, pause: float, workers: int, scratch: Scratch, envelope: dict[str, Any],
    *, scaled: bool
) -> dict[str, Any]:
    """Bare python-socketio broadcasting the same envelope to the same number of clients."""
    channel = f"bare-bench-{uuid.uuid4().hex}"
    servers = [
        bare_server(f"bare-{n}-{name}", scratch.path, REDIS_URL if scaled else None, channel)
        for name in (("a", "b") if scaled else ("a",))
    ]
    start_all(servers)
    trigger = LeanClient(servers[0].url, None)
    fleet: Fleet | None = None
    counter = iter(range(1_000_000, 2_000_000))
    try:
        await trigger.connect()
        await trigger.join(None)
        fleet = Fleet([s.url for s in servers], [None] * n, None, workers)
        await fleet.start()

        async def broadcast() -> int:
            key = next(counter)
            await trigger.call("broadcast", {**envelope, "seq": key})
            return key

        return await _rounds(fleet, broadcast, rounds, pause, [s.pid for s in servers])
    finally:
        if fleet is not None:
            await fleet.close()
        await trigger.close()
        for server in servers:
            server.stop()


_LAST: dict[LeanClient, dict[str, Any]] = {}


def _keep_last(client: LeanClient, _received: float, envelope: dict[str, Any]) -> None:
    if envelope.get("type") == "agenda.current":
        _LAST[client] = envelope


def _line(label: str, r: dict[str, Any]) -> str:
    return (f"  {label:<16} p50 {r['p50_ms']:>7.1f} ms   p99 {r['p99_ms']:>7.1f} ms   "
            f"max {r['max_ms']:>7.1f} ms   server CPU {r['server_cpu_us_per_recipient']:>5.0f} "
            f"µs/recipient")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    scratch = Scratch()
    results = []
    lines = []
    try:
        for n in args.n:
            lines.append(f"N = {n} ({args.rounds} rounds, {args.workers} client processes)")
            row: dict[str, Any] = {"n": n}
            if not args.scaled_only:
                ours, envelope = await run_ecabinet(n, args.rounds, args.pause, args.workers,
                                                    scratch, scaled=False)
                bare = await run_bare(n, args.rounds, args.pause, args.workers, scratch,
                                      envelope, scaled=False)
                row |= {
                    "ours": ours, "bare": bare,
                    "p99_ratio": ratio(ours["p99_ms"], bare["p99_ms"]),
                    "p50_ratio": ratio(ours["p50_ms"], bare["p50_ms"]),
                    "payload_bytes": len(_json(envelope)),
                }
                lines += [_line("ecabinet", ours), _line("bare", bare),
                          f"  p99 ratio {row['p99_ratio']}, p50 ratio {row['p50_ratio']}"]
            if args.scaled or args.scaled_only:
                scaled, envelope = await run_ecabinet(n, args.rounds, args.pause, args.workers,
                                                      scratch, scaled=True)
                scaled_bare = await run_bare(n, args.rounds, args.pause, args.workers, scratch,
                                             envelope, scaled=True)
                row |= {"scaled": scaled, "scaled_bare": scaled_bare,
                        "scaled_p99_ratio": ratio(scaled["p99_ms"], scaled_bare["p99_ms"])}
                lines += [_line("ecabinet ×2+Redis", scaled), _line("bare ×2+Redis", scaled_bare),
                          f"  scaled p99 ratio {row['scaled_p99_ratio']}"]
                for server, part in scaled.get("by_server", {}).items():
                    lines.append(f"    clients on process {server}: p50 {part['p50_ms']} ms, "
                                 f"p99 {part['p99_ms']} ms")
            results.append(row)
    except BaseException:
        print(f"failed; server logs kept in {scratch.path}", file=sys.stderr)
        raise
    else:
        scratch.cleanup()
    at_target = next((r for r in results if r["n"] == TARGET_N and "ours" in r), None)
    met = None if at_target is None else at_target["p99_ratio"] <= TARGET_P99_RATIO
    if at_target is not None:
        lines.append(f"target at N = {TARGET_N}: p99 ratio {at_target['p99_ratio']} "
                     f"<= {TARGET_P99_RATIO}: {'met' if met else 'MISSED'}")
    print_result(lines, {
        "benchmark": "fanout",
        "command": " ".join(["python -m benchmarks.fanout", *sys.argv[1:]]),
        "rounds": args.rounds,
        "workers": args.workers,
        "fleet_join": "since the current sequence number (harness.JOIN_NOTE)",
        "results": results,
        "target": {"n": TARGET_N, "max_p99_ratio": TARGET_P99_RATIO,
                   "p99_ratio": at_target["p99_ratio"] if at_target else None, "met": met},
        "machine": machine(),
    })
    return {"results": results}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[100, 500, 1000],
                        help="numbers of clients (default: 100 500 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per N (5)")
    parser.add_argument("--pause", type=float, default=0.3,
                        help="seconds between rounds, as a chair would pause (0.3)")
    parser.add_argument("--workers", type=int, default=4, help="client processes (4)")
    parser.add_argument("--scaled", action="store_true",
                        help="also two ecabinet processes with Redis and PostgreSQL")
    parser.add_argument("--scaled-only", action="store_true",
                        help="only the two-process runs (ours and bare)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(main_async(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
