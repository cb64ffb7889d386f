"""The ``ecabinet`` command line: serve, demo, db upgrade, user add."""

from __future__ import annotations

import argparse
import gc
import getpass
import os
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from ecabinet import __version__
from ecabinet.cli.pack import add_pack_commands
from ecabinet.cli.watermark import add_watermark_commands
from ecabinet.core import logs
from ecabinet.core.errors import ConfigError, EcabinetError
from ecabinet.core.settings import Settings


def _settings() -> Settings:
    return Settings().prepare()


def _check_redis(settings: Settings) -> None:
    if not settings.redis_url:
        return
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(
            "ECABINET_REDIS_URL", f"cannot reach {settings.redis_url}: {exc}"
        ) from None
    finally:
        client.close()


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    """How uvicorn runs the server (the benchmarks' bare baseline runs with the same)."""
    return {
        "host": host,
        "port": port,
        "log_config": None,
        # Compression costs more CPU and memory than it saves on small events (PERFORMANCE.md).
        "ws_per_message_deflate": False,
        # ecabinet applies forwarded headers itself, from ECABINET_TRUSTED_PROXIES only (uvicorn
        # would believe them from 127.0.0.1 by default, and leaves X-Forwarded-Host aside).
        "proxy_headers": False,
        "timeout_graceful_shutdown": 5,
    }


def _serve(settings: Settings, app: Any, workers: int) -> None:
    import uvicorn

    options = uvicorn_options(settings.host, settings.port)
    if workers > 1:
        # Workers re-create the app from the environment; migrations already ran once here.
        os.environ["ECABINET_MIGRATE_ON_START"] = "false"
        os.environ.setdefault("ECABINET_SECRET_KEY", settings.secret_key or "")
        os.environ["ECABINET_DATA_DIR"] = str(settings.data_dir)
        uvicorn.run("ecabinet.app:app_from_env", factory=True, workers=workers, **options)
    else:
        # Objects alive after start-up live as long as the process: keep the cyclic collector
        # from re-scanning them on every full collection (see shared/PERFORMANCE.md).
        gc.collect()
        gc.freeze()
        uvicorn.run(app, **options)


def cmd_serve(args: argparse.Namespace) -> int:
    from ecabinet.app import create_app, open_database

    settings = _settings()
    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    _check_redis(settings)
    if args.workers > 1:
        if not settings.redis_url:
            raise ConfigError(
                "--workers", "several processes need ECABINET_REDIS_URL to share rooms"
            )
        open_database(settings).close()
        _serve(settings, None, args.workers)
    else:
        _serve(settings, create_app(settings), 1)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ecabinet.app import create_app
    from ecabinet.samples import demo

    settings = _settings()
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    app = create_app(settings)
    password = args.password or secrets.token_urlsafe(6)
    folder, prepared = demo.prepare_sample(app.runtime.settings, settings.samples_dir / args.sample)
    loaded = app.runtime.db.run_sync(demo.load_sample, folder, password, prepared)
    base = f"http://{settings.host}:{settings.port}"
    print(demo.describe(loaded, password, base))
    sys.stdout.flush()
    _serve(settings, app, 1)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from ecabinet.app import open_database
    from ecabinet.storage.migrate import current_revision

    settings = _settings()
    db = open_database(settings.model_copy(update={"migrate_on_start": True}))
    try:
        print(f"database at revision {current_revision(db.engine)}")
    finally:
        db.close()
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from ecabinet.app import open_database
    from ecabinet.services import accounts

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Mật khẩu (password): ")
        if getpass.getpass("Nhập lại (again): ") != password:
            print("ecabinet: passwords differ", file=sys.stderr)
            return 1
    db = open_database(_settings())
    try:
        user = db.run_sync(
            accounts.create_user,
            args.username,
            password,
            args.full_name or args.username,
            email=args.email,
            is_admin=args.admin,
        )
    finally:
        db.close()
    print(f"created user {user.username} ({user.full_name}){' as admin' if user.is_admin else ''}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ecabinet.app import open_database
    from ecabinet.services import audit

    expect = None
    if args.expect:
        seq, _, digest = args.expect.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            print(
                "ecabinet: --expect takes SEQ:HASH as printed by `ecabinet audit head`",
                file=sys.stderr,
            )
            return 2
        expect = (int(seq), digest)
    db = open_database(_settings())
    try:
        report = db.run_sync(audit.check, expect)
    finally:
        db.close()
    for problem in report.problems:
        where = "anchor log" if problem.seq is None else f"record {problem.seq}"
        print(f"{where}: {problem.message}")
    if report.keyed_from is not None and report.keyed_from > 1:
        print(
            f"records 1–{report.keyed_from - 1} were written before the chain was keyed "
            "(plain SHA-256)"
        )
    if report.last_anchor is not None:
        anchor = report.last_anchor
        print(
            f"last anchor checked: {anchor} of {anchor.at} "
            f"({report.anchors_checked} anchor(s) in {report.anchor_log} match)"
        )
    else:
        print(f"no anchor checked: none in {report.anchor_log} matches a record")
    if report.problems:
        print(f"audit trail BROKEN: {len(report.problems)} problem(s)")
        return 1
    seq, digest = report.head
    print(f"audit trail intact: {report.records} records, head {seq}:{digest}")
    return 0


def cmd_audit_head(args: argparse.Namespace) -> int:
    from ecabinet.app import open_database
    from ecabinet.services import audit

    db = open_database(_settings())
    try:
        anchor = db.run_sync(audit.current_anchor)  # also appended to the anchor log
    finally:
        db.close()
    print(anchor)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from ecabinet.rendering.redis_queue import run_worker

    settings = _settings()
    if not settings.redis_url:
        raise ConfigError(
            "ECABINET_REDIS_URL", "`ecabinet worker` renders from the Redis queue; set it"
        )
    _check_redis(settings)
    processes = args.processes or settings.render_workers or os.cpu_count() or 1

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(settings, processes, stop)

    asyncio.run(work())
    return 0


DEMO_DESCRIPTION = """\
Load a sample meeting pack (published, with its documents), print the sign-in
details of its accounts, then serve. Every account has the one password printed
(random unless --password is given); running the demo again resets it.

The accounts of the small sample (the large one names its own, with more
delegates and two observers; the admin is the same):
  admin      quantri      sees and prepares every meeting, creates new ones and
                          imports packs (/manage)
  chair      chutich      runs the meeting from the chair console
                          (/meetings/N/chair): agenda, presenting, votes, speakers
  secretary  thuky        prepares the meeting (/manage/meetings/N): agenda,
                          participants, documents, publishing; also the console
  delegate   ten of them  follow the meeting on a tablet (/meetings/N): documents,
                          annotations, asking to speak, voting
  observer   quansat      follows the meeting without voting or speaking, and never
                          sees confidential items

Open http://HOST:PORT/signin and sign in as any of them (N is the meeting's
number, printed first)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecabinet",
        description="ecabinet: paperless meeting room server. Settings come from ECABINET_* "
        "environment variables (see README).",
    )
    parser.add_argument("--version", action="version", version=f"ecabinet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the server", description="Run the server.")
    serve.add_argument("--host", help="address to listen on (default: ECABINET_HOST)")
    serve.add_argument("--port", type=int, help="port (default: ECABINET_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (more than one needs ECABINET_REDIS_URL)",
    )
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser(
        "demo",
        help="load a sample meeting, print sign-in details and serve",
        description=DEMO_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--sample", default="small", help="sample pack folder name (default: small)")
    demo.add_argument("--password", help="password for the demo accounts (default: random)")
    demo.add_argument("--port", type=int, help="port (default: ECABINET_PORT or 8000)")
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    up = db_sub.add_parser(
        "upgrade",
        help="apply migrations",
        description="Apply all database migrations (the server also does this on start).",
    )
    up.set_defaults(func=cmd_db_upgrade)

    user = sub.add_parser("user", help="manage accounts", description="Manage accounts.")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = user_sub.add_parser(
        "add", help="create an account", description="Create an account; asks for the password."
    )
    add.add_argument("username")
    add.add_argument("--full-name", help="display name, e.g. 'Nguyễn Văn An'")
    add.add_argument("--email")
    add.add_argument("--admin", action="store_true", help="give the admin role")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (for scripts)",
    )
    add.set_defaults(func=cmd_user_add)

    audit_cmd = sub.add_parser(
        "audit",
        help="check the audit trail",
        description="Check the audit trail (a chain keyed with the server secret) against the "
        "anchors kept outside the database (ECABINET_AUDIT_ANCHOR_LOG).",
    )
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_sub.add_parser(
        "verify",
        help="recompute the chain, check it against the anchor log, report what changed",
        description="Recompute the audit trail's keyed hash chain and check every anchor in the "
        "anchor log; exit 1 when a record was changed, removed, inserted or forged, or records "
        "were cut from the end up to an anchor. Prints the last anchor it checked against.",
    )
    verify.add_argument(
        "--expect",
        metavar="SEQ:HASH",
        help="a head printed earlier (`ecabinet audit head`, the minutes) and kept elsewhere, "
        "checked as one more anchor",
    )
    verify.set_defaults(func=cmd_audit_verify)
    head = audit_sub.add_parser(
        "head",
        help="print the latest record as SEQ:HASH and append it to the anchor log",
        description="Print the latest record's number and hash, to keep outside the database; "
        "it is also appended to the anchor log.",
    )
    head.set_defaults(func=cmd_audit_head)
    add_pack_commands(sub)
    add_watermark_commands(sub)

    worker = sub.add_parser(
        "worker",
        help="render document pages from the Redis queue",
        description="Render document pages from the shared Redis queue (needs ECABINET_REDIS_URL "
        "and the servers' data folder, e.g. on a shared volume). Stops on SIGTERM or Ctrl-C.",
    )
    worker.add_argument(
        "--processes",
        type=int,
        help="rendering processes (default: ECABINET_RENDER_WORKERS or one per CPU)",
    )
    worker.set_defaults(func=cmd_worker)

    protocol = sub.add_parser(
        "protocol", help="generated protocol files", description="Files made from the protocol."
    )
    protocol_sub = protocol.add_subparsers(
        dest="protocol_command", required=True, metavar="COMMAND"
    )
    write = protocol_sub.add_parser(
        "write",
        help="write docs/protocol.md and the Python client's protocol.json",
        description="Regenerate docs/protocol.md and clients/python/ecabinet_client/protocol.json "
        "from the declarations (run it after changing a command, event or endpoint).",
    )
    write.set_defaults(func=cmd_protocol_write)
    return parser


def cmd_protocol_write(args: argparse.Namespace) -> int:
    from ecabinet.app import protocol_files

    return protocol_files.main()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(json_lines=os.environ.get("ECABINET_LOG_JSON", "").lower() in ("1", "true"))
    try:
        result: int = args.func(args)
        return result
    except ConfigError as exc:
        print(f"ecabinet: configuration error: {exc}", file=sys.stderr)
        return 2
    except EcabinetError as exc:
        print(f"ecabinet: {exc.message} [{exc.code}]", file=sys.stderr)
        for detail in exc.details or []:
            print(f"  - {detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
