"""``ecabinet pack``: import a meeting pack (folder or zip) and export a meeting as a pack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

PACK_HELP = """\
A pack is a folder (or a zip of it) holding meeting.yaml and the files it names:

  meeting:      {title, body, place, description, starts_at, ends_at}
  participants: [{user, full_name, role: chair|secretary|delegate|observer,
                  vote, weight, proxy_holder}]
  documents:    [{file, title, confidential}]          # on no agenda item
  agenda:       [{title, presenter, minutes, description, confidential, vote,
                  documents: [...], items: [...]}]       # two levels at most
"""


def _settings() -> Any:
    from ecabinet.core.settings import Settings

    return Settings().prepare()


def report(exc: Any) -> int:
    """Print an error and each problem as ``file:line: field: message`` (editors jump there)."""
    print(f"ecabinet: {exc.message} [{exc.code}]", file=sys.stderr)
    details = exc.details if isinstance(exc.details, list) else [exc.details] if exc.details else []
    for problem in details:
        if not isinstance(problem, dict):
            print(f"  - {problem}", file=sys.stderr)
            continue
        where = ":".join(str(p) for p in (problem.get("file"), problem.get("line")) if p)
        field = problem.get("field") or problem.get("document") or ""
        text = ": ".join(part for part in (where, field, str(problem.get("message", ""))) if part)
        print(f"  {text}", file=sys.stderr)
    return 1


def cmd_pack_import(args: argparse.Namespace) -> int:
    from ecabinet.core.errors import EcabinetError

    try:
        return _pack_import(args)
    except EcabinetError as exc:
        return report(exc)


def _pack_import(args: argparse.Namespace) -> int:
    from ecabinet import samples
    from ecabinet.app import open_database
    from ecabinet.services.packs import transfer as pack_io

    settings = _settings()
    path = Path(args.path)
    if path.is_dir():
        # The sample packs generate their documents on first use.
        path = samples.ensure_generated(path, settings.data_dir / "sample-packs" / path.name)
    password = None
    if args.create_users:
        password = (
            sys.stdin.readline().rstrip("\n") if args.password_stdin else pack_io.random_password()
        )
    db = open_database(settings)
    try:
        result = pack_io.import_path(
            db,
            settings,
            path,
            new_user_password=password,
            publish=args.publish,
            dry_run=args.dry_run,
        )
    finally:
        db.close()
    verb = "kiểm tra xong, không ghi gì (checked, nothing written)" if result.dry_run else "đã nhập"
    print(
        f"{verb}: cuộc họp #{result.meeting_id} «{result.title}» ({result.status}, "
        f"phiên bản {result.pack_version}): {result.participants} người dự, {result.items} mục, "
        f"{result.documents} tài liệu, {result.pages} trang"
    )
    if result.created_users:
        shown = "(từ stdin)" if args.password_stdin else password
        print(
            f"tài khoản mới (new accounts): {', '.join(result.created_users)}; "
            f"mật khẩu (password): {shown}"
        )
    return 0


def cmd_pack_export(args: argparse.Namespace) -> int:
    from ecabinet.app import open_database
    from ecabinet.services import audit
    from ecabinet.services.packs import transfer as pack_io

    settings = _settings()
    db = open_database(settings)
    try:

        def export_audited(session: Any) -> Any:
            exported = pack_io.export_pack(session, args.meeting, settings)
            audit.record(session, audit.EXPORT, subject=f"meeting:{args.meeting}",
                         details={"what": "pack", "documents": len(exported.files),
                                  "left_out": len(exported.left_out),
                                  "book": not args.no_book}, address="cli")
            return exported

        exported = db.run_sync(export_audited)
    finally:
        db.close()
    out = (
        Path(args.output) if args.output else Path.cwd() / (pack_io.default_name(exported) + ".zip")
    )
    pack_io.write_zip(exported, out)
    print(f"gói họp (pack): {out} ({len(exported.files)} tài liệu)")
    if exported.left_out:
        print(f"không kèm {len(exported.left_out)} tài liệu mật (confidential documents left "
              "out; named at the top of meeting.yaml, a placeholder page in the book)")
    if not args.no_book:
        book = out.with_suffix(".pdf")
        pages = pack_io.write_book(exported, book)
        print(f"sổ tài liệu (pack book): {book} ({pages} trang)")
    return 0


def add_pack_commands(sub: Any) -> None:
    pack = sub.add_parser(
        "pack",
        help="import and export meeting packs",
        description="Import and export meeting packs.\n\n" + PACK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pack_sub = pack.add_subparsers(dest="pack_command", required=True, metavar="COMMAND")
    imp = pack_sub.add_parser(
        "import",
        help="import a pack folder or zip as a new meeting (all or nothing)",
        description="Import a pack folder or zip as a new draft meeting, in one transaction: "
        "any problem (malformed meeting.yaml, missing or bad file, unknown user, duplicate "
        "item) is listed with file and line, and nothing is written.\n\n" + PACK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("path", help="pack folder or .zip")
    imp.add_argument("--publish", action="store_true", help="publish the meeting (needs a chair)")
    imp.add_argument(
        "--create-users",
        action="store_true",
        help="create accounts for participants who have none (random password, printed)",
    )
    imp.add_argument(
        "--password-stdin",
        action="store_true",
        help="with --create-users: read the new accounts' password from standard input",
    )
    imp.add_argument("--dry-run", action="store_true", help="check everything, then write nothing")
    imp.set_defaults(func=cmd_pack_import)
    exp = pack_sub.add_parser(
        "export",
        help="write a meeting as a pack zip and its pack book PDF",
        description="Write meeting MEETING (its id) as a pack zip (meeting.yaml and the stored "
        "PDFs), and the pack book PDF beside it (same name, .pdf). Confidential documents are "
        "left out of both (named at the top of meeting.yaml; a placeholder page in the book).",
    )
    exp.add_argument("meeting", type=int, metavar="MEETING", help="meeting id")
    exp.add_argument("-o", "--output", help="zip file to write (default: ./cuoc-hop-ID-....zip)")
    exp.add_argument("--no-book", action="store_true", help="do not write the pack book PDF")
    exp.set_defaults(func=cmd_pack_export)
