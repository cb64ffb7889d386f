"""Simulated tablets: N clients across several processes, with their own latency accounting.

Each tablet is an ``ecabinet_client.Client`` on the lean websocket transport (a thousand fit in
two processes): it joins the meeting, follows the presenter (fetching the page image when the
page changes), votes when a poll opens, annotates, and drops its connection now and then to
reconnect and resync. A driver (the chair) moves the meeting on: next agenda item, next page,
open and close a poll. At the end every tablet must hold the meeting's last sequence number with
no event missing or out of order.

Latencies: events from the server's commit (``at``) to the tablet (same clock on one machine);
commands from send to ack; page images per request; reconnects from the drop to the resync.
The last line printed is one JSON object with every number.

Accounts: tablet i signs in as ``--user-pattern`` formatted with i (``daibieu{i}`` → daibieu1,
daibieu2, ...; ``--users K`` reuses K accounts) with ``--password``, or all use ``--token``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import sys
import time
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

import httpx

from ecabinet_client.client import Client
from ecabinet_client.schema import Protocol
from ecabinet_client.tablets import (
    Config,
    Driver,
    Stats,
    Tablet,
    annotation_command,
    documents_of,
    example_value,
    gather_limited,
    page_template,
)

__all__ = ["Config", "Stats", "documents_of", "example_value", "run", "sign_in_all"]


async def _worker(cfg: Config, indices: list[int], tokens: list[str], conn: Connection) -> None:
    # Joining allocates a lot that reference counting frees; full collections over a growing
    # heap would only stall the loop. Collect once when everyone is in, then freeze.
    gc.disable()
    stats = Stats()
    protocol = Protocol.load()
    pages = page_template(protocol, cfg.pages, cfg.page_size)
    annotate = annotation_command(protocol) if cfg.annotate_rate > 0 else None
    limits = httpx.Limits(max_connections=cfg.http_connections,
                          max_keepalive_connections=cfg.http_connections)
    async with httpx.AsyncClient(base_url=cfg.url, limits=limits, timeout=60.0) as http:
        tablets = [Tablet(index, t, cfg, stats, http, pages, annotate)
                   for index, t in zip(indices, tokens, strict=True)]
        results = await gather_limited(cfg.connect_concurrency, [t.start() for t in tablets])
        failed = [r for r in results if isinstance(r, BaseException)]
        for error in failed:
            stats.count(f"error:join:{getattr(error, 'code', type(error).__name__)}")
        gc.collect()
        gc.freeze()  # long-lived tablets: keep full collections from re-scanning them
        gc.enable()
        conn.send(("ready", len(tablets) - len(failed), len(failed)))
        order = await _order(conn)
        cpu_start = time.process_time()
        if order == "go":
            for tablet in tablets:
                tablet.running = True
                tablet.spawn(tablet.behave())
            await _order(conn)  # "stop"
        for tablet in tablets:
            tablet.running = False
        cpu = time.process_time() - cpu_start
        seqs = [t.last_seq for t in tablets]
        resyncs = sum(r.resyncs for t in tablets for r in t.client._rooms.values())
        reconnects = sum(t.client.reconnects for t in tablets)
        await gather_limited(100, [t.close() for t in tablets])
    stats.count("resyncs", resyncs)
    stats.count("reconnects", reconnects)
    with contextlib.suppress(OSError):  # the parent may have gone
        conn.send(("stats", stats.dump(), seqs, cpu))


async def _order(conn: Connection) -> str:
    """The parent's next order; "stop" when it has gone."""
    try:
        message = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    except (EOFError, OSError):
        return "stop"
    return str(message[0])


def worker_main(cfg: Config, indices: list[int], tokens: list[str], conn: Connection) -> None:
    """Entry point of a load-generating process."""
    try:
        asyncio.run(_worker(cfg, indices, tokens, conn))
    except BaseException as exc:  # report, do not hang the parent
        with contextlib.suppress(Exception):
            conn.send(("failed", repr(exc)))
        raise


async def sign_in_all(url: str, accounts: list[tuple[str, str]], concurrency: int = 4
                      ) -> dict[str, str]:
    """Tokens for each distinct account (signed in once, a few at a time)."""
    tokens: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as http:

        async def one(username: str, password: str) -> None:
            client = Client(url, http=http)
            await client.sign_in(username, password)
            assert client.token is not None
            tokens[username] = client.token

        results = await gather_limited(concurrency, [one(u, p) for u, p in dict(accounts).items()])
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
    return tokens


async def _drive(cfg: Config, stats: Stats, conns: list[Connection]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    ready = [await loop.run_in_executor(None, c.recv) for c in conns]
    problems = [m for m in ready if m[0] != "ready"]
    if problems:
        raise RuntimeError(f"a load process failed: {problems}")
    joined = sum(m[1] for m in ready)
    failed = sum(m[2] for m in ready)
    driver = Driver(cfg, stats) if cfg.chair_token else None
    if driver is not None:
        await driver.prepare()
    for c in conns:
        c.send(("go",))
    started = time.monotonic()
    if driver is not None:
        await driver.run(started + cfg.duration)
    else:
        await asyncio.sleep(cfg.duration)
    await asyncio.sleep(cfg.settle)
    head = driver.head if driver is not None else None
    for c in conns:
        c.send(("stop",))
    results = [await loop.run_in_executor(None, c.recv) for c in conns]
    if driver is not None:
        await driver.close()
    seqs: list[int | None] = []
    cpu = []
    for result in results:
        if result[0] != "stats":
            raise RuntimeError(f"a load process failed: {result}")
        stats.merge(result[1])
        seqs += result[2]
        cpu.append(round(result[3], 2))
    if head is None:
        known = [s for s in seqs if s is not None]
        head = max(known) if known else None
    behind = sum(1 for s in seqs if s is None or head is None or s < head)
    return {"joined": joined, "join_failed": failed, "head_seq": head, "behind": behind,
            "active_s": round(time.monotonic() - started, 1), "worker_cpu_s": cpu}


def run(cfg: Config) -> dict[str, Any]:
    """Run the load and answer the report (what the command prints as its last line)."""
    if not cfg.tokens:
        raise ValueError("no tokens: sign the tablets in first (sign_in_all)")
    processes = max(1, min(cfg.processes, cfg.tablets))
    context = multiprocessing.get_context("spawn")
    share = [list(range(p, cfg.tablets, processes)) for p in range(processes)]
    pipes, workers = [], []
    for members in share:
        parent, child = context.Pipe()
        tokens = [cfg.tokens[i % len(cfg.tokens)] for i in members]
        proc = context.Process(target=worker_main, args=(cfg, members, tokens, child),
                               daemon=True)
        proc.start()
        child.close()
        pipes.append(parent)
        workers.append(proc)
    stats = Stats()
    try:
        outcome = asyncio.run(_drive(cfg, stats, pipes))
    finally:
        for pipe in pipes:
            pipe.close()  # a worker still waiting for orders (the driver failed) stops
        for proc in workers:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    events = [v for k, v in stats.samples.items() if k.startswith("event:")]
    all_events = sorted(x for values in events for x in values)
    report = {
        "tablets": cfg.tablets,
        "processes": processes,
        **outcome,
        "events_received": stats.counts.get("events", 0),
        "event_latency_all": Stats.summary(_one("all", all_events))["all"] if all_events else None,
        "latency": stats.summary(),
        "counts": dict(sorted(stats.counts.items())),
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("tokens", "chair_token")},
    }
    return report


def _one(key: str, values: list[float]) -> Stats:
    stats = Stats()
    stats.samples[key] = values
    return stats


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--meeting", type=int, required=True, help="meeting id")
    p.add_argument("-n", "--tablets", type=int, default=10, help="simulated tablets (default 10)")
    p.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1),
                   help="load processes (default: 2)")
    p.add_argument("--user-pattern", default="daibieu{i}",
                   help="tablet accounts, formatted with i from --first-user (default daibieu{i})")
    p.add_argument("--first-user", type=int, default=1)
    p.add_argument("--accounts", metavar="FILE",
                   help="tablet accounts instead: one 'username' or 'username password' a line")
    p.add_argument("--tokens-file", metavar="FILE",
                   help="tablet tokens, one per line ('token' or 'username token'): read when "
                   "the file exists, else written after signing in (sign-ins are slow by design)")
    p.add_argument("--users", type=int, default=0,
                   help="distinct accounts to use (default: one per tablet)")
    p.add_argument("--chair", help="the driver's account (default: no driver, only follow)")
    p.add_argument("--chair-password", help="default: --password")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of activity")
    p.add_argument("--step", type=float, default=2.0, help="seconds between the driver's actions")
    p.add_argument("--no-polls", action="store_true", help="the driver opens no polls")
    p.add_argument("--poll-window", type=float, default=4.0, help="seconds a poll stays open")
    p.add_argument("--pages", default="auto",
                   help="page image fetching: auto (the page endpoint if the server has one), "
                   "off, or a path template with {document_id} {page} {size}")
    p.add_argument("--page-size", default="tablet", help="rendition to fetch (default tablet)")
    p.add_argument("--vote-delay", type=float, default=1.5)
    p.add_argument("--check-in", action="store_true",
                   help="tablets check in (attendance.check_in) on joining; every check-in is "
                   "an event for the whole room, so N tablets cause N×N deliveries")
    p.add_argument("--annotate-rate", type=float, default=0.0,
                   help="annotations per tablet per minute")
    p.add_argument("--drop-rate", type=float, default=0.0,
                   help="connection drops per tablet per minute")
    p.add_argument("--connect-concurrency", type=int, default=20,
                   help="tablets connecting and joining at once per process (default 20)")
    p.add_argument("--ack-timeout", type=float, default=15.0,
                   help="seconds to wait for an answer before resending (same client id)")
    p.add_argument("--settle", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quiet", action="store_true", help="print only the JSON line")


def read_tokens(path: str) -> list[str] | None:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as lines:
        return [line.split()[-1] for line in lines if line.strip() and not line.startswith("#")]


def read_accounts(path: str, password: str | None) -> list[tuple[str, str]]:
    accounts = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            secret = parts[1] if len(parts) > 1 else password
            if not secret:
                raise SystemExit(f"{path}: no password for {parts[0]} (add it or --password)")
            accounts.append((parts[0], secret))
    return accounts


def cmd_loadgen(args: argparse.Namespace) -> int:
    url = (args.url or os.environ.get("ECABINET_URL") or "http://127.0.0.1:8000").rstrip("/")
    password = args.password or os.environ.get("ECABINET_PASSWORD")
    token = args.token or os.environ.get("ECABINET_TOKEN")
    accounts: list[tuple[str, str]] = []
    have_tokens = bool(args.tokens_file) and os.path.exists(args.tokens_file)
    if not token and not args.accounts and not have_tokens:
        if not password:
            print("ecabinet-client loadgen: --password (or ECABINET_PASSWORD) or --token",
                  file=sys.stderr)
            return 2
        count = args.users or args.tablets
        accounts = [(args.user_pattern.format(i=args.first_user + i), password)
                    for i in range(count)]
    if args.accounts:
        accounts = read_accounts(args.accounts, password)
    chair_accounts = [(args.chair, args.chair_password or password or "")] if args.chair else []
    started = time.perf_counter()
    saved = read_tokens(args.tokens_file) if args.tokens_file else None
    if saved is not None:
        accounts = []
    signed = asyncio.run(sign_in_all(url, accounts + chair_accounts)) if (
        accounts or chair_accounts) else {}
    if saved is not None:
        tokens = saved
    elif accounts:
        tokens = [signed[u] for u, _p in accounts]
        if args.tokens_file:
            with open(args.tokens_file, "w", encoding="utf-8") as out:
                out.writelines(f"{u} {signed[u]}\n" for u, _p in accounts)
    else:
        tokens = [str(token)]
    cfg = Config(
        url=url, meeting_id=args.meeting, tablets=args.tablets, processes=args.processes,
        tokens=tokens, duration=args.duration,
        chair_token=signed.get(args.chair) if args.chair else None, step=args.step,
        polls=not args.no_polls, poll_window=args.poll_window, check_in=args.check_in,
        pages=None if args.pages == "off" else args.pages, page_size=args.page_size,
        vote_delay=args.vote_delay, annotate_rate=args.annotate_rate, drop_rate=args.drop_rate,
        connect_concurrency=args.connect_concurrency, settle=args.settle, seed=args.seed,
        ack_timeout=args.ack_timeout,
    )
    if not args.quiet:
        print(f"{len(set(tokens))} tài khoản đăng nhập trong {time.perf_counter() - started:.1f} s;"
              f" khởi động {cfg.tablets} máy tính bảng trong {cfg.processes} tiến trình…",
              file=sys.stderr)
    report = run(cfg)
    if not args.quiet:
        print_report(report)
    print(json.dumps(report, ensure_ascii=False))
    ok = report["joined"] == cfg.tablets and report["behind"] == 0 and \
        report["counts"].get("order_violations", 0) == 0
    return 0 if ok else 1


def print_report(report: dict[str, Any]) -> None:
    out = sys.stderr
    print(f"\nMáy tính bảng: {report['joined']}/{report['tablets']} đã vào phòng "
          f"({report['join_failed']} lỗi), {report['processes']} tiến trình, "
          f"CPU mỗi tiến trình {report['worker_cpu_s']} s trong {report['active_s']} s", file=out)
    print(f"Sự kiện nhận: {report['events_received']} · số thứ tự cuối {report['head_seq']} · "
          f"chậm/thiếu: {report['behind']} · sai thứ tự: "
          f"{report['counts'].get('order_violations', 0)}", file=out)
    print(f"{'đo':<32}{'n':>8}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}", file=out)
    for key, row in report["latency"].items():
        print(f"{key:<32}{row['n']:>8}{row['p50_ms']:>10}{row['p90_ms']:>10}{row['p99_ms']:>10}"
              f"{row['max_ms']:>10}", file=out)
    errors = {k: v for k, v in report["counts"].items() if k.startswith("error:")}
    if errors:
        print("Lỗi: " + ", ".join(f"{k[6:]}={v}" for k, v in errors.items()), file=out)
