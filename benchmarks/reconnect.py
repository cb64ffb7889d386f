"""Reconnect storm: every tablet loses the Wi-Fi at once, the meeting moves on, the Wi-Fi returns.

    python -m benchmarks.reconnect              # N = 500, embedded (SQLite)
    python -m benchmarks.reconnect --scaled     # also two processes with Redis and PostgreSQL

N lean Socket.IO clients (in several worker processes) join the meeting; then all of them drop
their connection at once without a goodbye, and the chair moves through ``--missed`` agenda items
while they are away. Then all reconnect at once: each opens a new websocket, authenticates with
its token, and re-joins with the last sequence number it saw; it counts as resynced when the
answer holds exactly the missed events. The time is from the order to reconnect until the last
client is resynced. In the same run the same clients do the same against a bare python-socketio
server: reconnect, connect the namespace, join a room with an ack.

The last line printed is one JSON object; ``ratio`` is ours over bare (target: at most 2.5).
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

TARGET_RATIO = 2.5


async def _storm(fleet: Fleet, settle: float, while_away: Any, pids: list[int]) -> dict[str, Any]:
    await fleet.drop()
    await asyncio.sleep(settle)  # let the server notice the dead links, as it would in a room
    await while_away()
    cpu_before = sum(cpu_seconds(p) for p in pids)
    started = time.time()
    rejoined = await fleet.reconnect()
    cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
    delays = [t - started for t in rejoined.times]
    summary = latency_summary(delays)
    return {
        "all_resynced_s": round(max(delays), 3),
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "clients": len(delays),
        "retries": rejoined.retries,
        "resynced_events": rejoined.resynced_events,
        "server_cpu_ms_per_client": round(cpu * 1000 / len(delays), 2),
    }


async def run_ecabinet(n: int, missed: int, workers: int, settle: float, scratch: Scratch,
                       *, scaled: bool) -> dict[str, Any]:
    label = "scaled" if scaled else "embedded"
    data = scratch.path / label
    with postgres_schema() if scaled else contextlib.nullcontext() as pg_url:
        database_url = pg_url or f"sqlite:///{data / 'ecabinet.sqlite3'}"
        meeting = prepare_meeting(database_url, data, n, items=missed + 2)
        servers = ecabinet_servers(label, data, database_url, scratch.path,
                                   scaled=scaled)
        chair = LeanClient(servers[0].url, {"token": meeting.chair_token})
        fleet: Fleet | None = None
        try:
            await chair.connect()
            await chair.join(meeting.meeting_id)
            started = await chair.command("meeting.start", meeting.meeting_id)
            # From the current sequence number, not a snapshot each: see harness.JOIN_NOTE.
            fleet = Fleet([s.url for s in servers], list(meeting.delegate_tokens),
                          meeting.meeting_id, workers, since=started["seq"])
            await fleet.start()

            async def chair_moves_on() -> None:
                for _ in range(missed):
                    await chair.command("agenda.next", meeting.meeting_id)

            result = await _storm(fleet, settle, chair_moves_on, [s.pid for s in servers])
            if result["resynced_events"] < missed * n:  # each re-join is checked exact
                raise RuntimeError(f"resync delivered {result['resynced_events']} events, "
                                   f"expected {missed * n}")
            return result
        finally:
            if fleet is not None:
                await fleet.close()
            await chair.close()
            for server in servers:
                server.stop()


async def run_bare(n: int, workers: int, settle: float, scratch: Scratch,
                   *, scaled: bool) -> dict[str, Any]:
    channel = f"bare-bench-{uuid.uuid4().hex}"
    servers = [bare_server(f"bare-{name}", scratch.path, REDIS_URL if scaled else None, channel)
               for name in (("a", "b") if scaled else ("a",))]
    start_all(servers)
    fleet: Fleet | None = None
    try:
        fleet = Fleet([s.url for s in servers], [None] * n, None, workers)
        await fleet.start()

        async def nothing() -> None:
            return None

        return await _storm(fleet, settle, nothing, [s.pid for s in servers])
    finally:
        if fleet is not None:
            await fleet.close()
        for server in servers:
            server.stop()


def _line(label: str, r: dict[str, Any]) -> str:
    return (f"  {label:<18} all resynced in {r['all_resynced_s']:>6.3f} s   "
            f"p50 {r['p50_ms']:>7.1f} ms   p99 {r['p99_ms']:>7.1f} ms   retries {r['retries']}   "
            f"server CPU {r['server_cpu_ms_per_client']:.2f} ms/client")


async def main_async(args: argparse.Namespace) -> None:
    scratch = Scratch()
    lines = [f"N = {args.n} clients drop and reconnect at once ({args.workers} client processes, "
             f"{args.missed} events missed)"]
    try:
        ours = await run_ecabinet(args.n, args.missed, args.workers, args.settle, scratch,
                                  scaled=False)
        bare = await run_bare(args.n, args.workers, args.settle, scratch, scaled=False)
        result: dict[str, Any] = {
            "benchmark": "reconnect",
            "command": " ".join(["python -m benchmarks.reconnect", *sys.argv[1:]]),
            "n": args.n,
            "missed_events": args.missed,
            "workers": args.workers,
            "ours": ours,
            "bare": bare,
            "ratio": ratio(ours["all_resynced_s"], bare["all_resynced_s"]),
        }
        lines += [_line("ecabinet", ours), _line("bare", bare), f"  ratio {result['ratio']}"]
        if args.scaled:
            scaled = await run_ecabinet(args.n, args.missed, args.workers, args.settle, scratch,
                                        scaled=True)
            scaled_bare = await run_bare(args.n, args.workers, args.settle, scratch, scaled=True)
            result |= {"scaled": scaled, "scaled_bare": scaled_bare,
                       "scaled_ratio": ratio(scaled["all_resynced_s"],
                                             scaled_bare["all_resynced_s"])}
            lines += [_line("ecabinet ×2+Redis", scaled), _line("bare ×2+Redis", scaled_bare),
                      f"  scaled ratio {result['scaled_ratio']}"]
    except BaseException:
        print(f"failed; server logs kept in {scratch.path}", file=sys.stderr)
        raise
    else:
        scratch.cleanup()
    met = result["ratio"] <= TARGET_RATIO
    result["target"] = {"max_ratio": TARGET_RATIO, "met": met}
    result["machine"] = machine()
    lines.append(f"target: ratio {result['ratio']} <= {TARGET_RATIO}: {'met' if met else 'MISSED'}")
    print_result(lines, result)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reconnect", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="number of clients (500)")
    parser.add_argument("--missed", type=int, default=3,
                        help="agenda moves made while the clients are away (3)")
    parser.add_argument("--workers", type=int, default=4, help="client processes (4)")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds between the drop and the moves (1.0)")
    parser.add_argument("--scaled", action="store_true",
                        help="also two ecabinet processes with Redis and PostgreSQL")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(main_async(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
