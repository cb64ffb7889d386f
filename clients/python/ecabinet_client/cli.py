"""The ``ecabinet-client`` command line.

    ecabinet-client meetings                     your meetings
    ecabinet-client follow 7                     live events of meeting 7, one line each
    ecabinet-client vote 12 yes                  cast a ballot in poll 12
    ecabinet-client pack push ./hop-ubnd-t5      import a pack folder (secretaries)
    ecabinet-client call agenda.next --meeting 7 any declared command
    ecabinet-client commands                     the commands this client knows
    ecabinet-client loadgen --tablets 1000 ...   simulated tablets (see ``loadgen --help``)

The server and the account come from options or the environment: ECABINET_URL, ECABINET_USER,
ECABINET_PASSWORD or ECABINET_TOKEN.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import io
import json
import os
import sys
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from ecabinet_client import display
from ecabinet_client.client import Client
from ecabinet_client.errors import EcabinetError, InvalidInput, NotFound, UnknownCommand
from ecabinet_client.events import SNAPSHOT, Event

DEFAULT_URL = "http://127.0.0.1:8000"
# Words accepted for yes/no/abstain polls, compared without Vietnamese marks ("tán thành").
VOTE_WORDS = {
    "yes": "yes", "y": "yes", "tan-thanh": "yes", "dong-y": "yes",
    "no": "no", "n": "no", "khong-tan-thanh": "no", "khong-dong-y": "no", "phan-doi": "no",
    "abstain": "abstain", "khong-bieu-quyet": "abstain", "khong-y-kien": "abstain",
}


class UsageError(Exception):
    """A mistake in the command line (exit code 2)."""


def _out(text: str = "") -> None:
    print(text, flush=True)


def connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("server and account")
    group.add_argument("--url", default=None, help=f"server (ECABINET_URL; default {DEFAULT_URL})")
    group.add_argument("--user", default=None, help="username (ECABINET_USER)")
    group.add_argument("--password", default=None,
                       help="password (ECABINET_PASSWORD; asked for when missing)")
    group.add_argument("--token", default=None,
                       help="a token from POST /api/auth/signin instead (ECABINET_TOKEN)")
    return common


def make_client(args: argparse.Namespace) -> Client:
    url = args.url or os.environ.get("ECABINET_URL") or DEFAULT_URL
    token = args.token or os.environ.get("ECABINET_TOKEN")
    user = args.user or os.environ.get("ECABINET_USER")
    password = args.password or os.environ.get("ECABINET_PASSWORD")
    if not token:
        if not user:
            raise UsageError("cần --user (hoặc ECABINET_USER) hoặc --token (ECABINET_TOKEN)")
        if not password:
            if not sys.stdin.isatty():
                raise UsageError("cần --password (hoặc ECABINET_PASSWORD)")
            password = getpass.getpass(f"Mật khẩu của {user}: ")
    return Client(url, token=token, username=user, password=password)


@contextlib.asynccontextmanager
async def signed_in(args: argparse.Namespace) -> AsyncIterator[Client]:
    """A signed-in client, closed afterwards (also when signing in fails)."""
    client = make_client(args)
    try:
        if client.token is None:
            await client.sign_in()
        yield client
    finally:
        await client.close()


# -- meetings ---------------------------------------------------------------------------------


async def cmd_meetings(args: argparse.Namespace) -> int:
    async with signed_in(args) as client:
        meetings = await client.meetings()
    if args.json:
        _out(json.dumps(meetings, ensure_ascii=False, indent=2))
        return 0
    if not meetings:
        _out("Bạn chưa có cuộc họp nào.")
        return 0
    rows = [("#", "Trạng thái", "Bắt đầu", "Vai trò", "Tiêu đề")]
    for m in meetings:
        starts = (m.get("starts_at") or "")[:16].replace("T", " ")
        rows.append((str(m["id"]), display.status_label(m.get("status")), starts or "—",
                     display.role_label(m.get("role")), str(m.get("title"))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        _out("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    return 0


# -- follow -----------------------------------------------------------------------------------


async def cmd_follow(args: argparse.Namespace) -> int:
    async with signed_in(args) as client:
        room = await client.join(args.meeting)
        count = 0
        async for event in room:
            if args.json:
                _out(json.dumps(_as_json(event), ensure_ascii=False))
            elif event.type == SNAPSHOT:
                for text in display.snapshot_event(event):
                    _out(text)
            else:
                _out(display.line(event))
            if not event.synthetic:
                count += 1
                if args.count and count >= args.count:
                    break
    return 0


def _as_json(event: Event) -> dict[str, Any]:
    return {"meeting_id": event.meeting_id, "seq": event.seq, "type": event.type,
            "payload": event.payload, "at": event.at}


# -- vote -------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case without Vietnamese marks: "Tán thành" → "tan thanh"."""
    decomposed = unicodedata.normalize("NFD", text.strip().lower()).replace("đ", "d")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def resolve_option(word: str, options: list[dict[str, Any]]) -> str:
    """An option id from what was typed: the id, its label, or yes/no/abstain in Vietnamese."""
    folded = _fold(word)
    alias = VOTE_WORDS.get(folded.replace(" ", "-"))
    if not options:  # the poll's options are not known here: the server checks the id
        return alias or word
    ids = [str(o.get("id")) for o in options]
    if word in ids:
        return word
    for option in options:
        if folded in (_fold(str(option.get("label", ""))), _fold(str(option.get("id")))):
            return str(option["id"])
    if alias in ids:
        return str(alias)
    raise UsageError(
        f"không có phương án '{word}'; các phương án: "
        + ", ".join(f"{o.get('id')} ({o.get('label')})" for o in options)
    )


def _find_poll(snapshot: dict[str, Any], poll_id: int) -> dict[str, Any] | None:
    for entry in snapshot.get("polls") or []:
        poll = entry.get("poll", entry) if isinstance(entry, dict) else None
        if isinstance(poll, dict) and poll.get("id") == poll_id:
            return poll
    return None


async def cmd_vote(args: argparse.Namespace) -> int:
    command = "poll.cast"
    async with signed_in(args) as client:
        client.protocol.command(command)  # UnknownCommand when the server has no votes
        candidates = [args.meeting] if args.meeting else [
            m["id"] for m in await client.meetings() if m.get("status") == "in_session"
        ]
        for meeting_id in candidates:
            room = await client.join(meeting_id, on_event=lambda _e: None)
            poll = _find_poll(room.snapshot, args.poll)
            if poll is None and not args.meeting:
                await room.leave()
                continue
            options = poll.get("options", []) if poll else []
            choice = [resolve_option(word, options) for word in args.option]
            payload: dict[str, Any] = {"poll_id": args.poll, "choice": choice}
            if args.for_participant:
                payload["for_participant_id"] = args.for_participant
            ack = await room.send(command, payload)
            labels = {str(o.get("id")): o.get("label") for o in options}
            chosen = ", ".join(str(labels.get(c) or display.POLL_OPTIONS.get(c, c))
                               for c in choice) or "phiếu trắng"
            changed = " (đã thay đổi lựa chọn)" if ack.get("changed") else ""
            again = " (đã ghi nhận trước đó)" if ack.get("duplicate") else ""
            _out(f"Đã bỏ phiếu cho biểu quyết #{args.poll}: {chosen}{changed}{again}")
            return 0
    raise NotFound("poll_not_found",
                   f"Không tìm thấy biểu quyết #{args.poll} trong cuộc họp đang diễn ra nào; "
                   "hãy chỉ rõ --meeting.")


# -- pack push --------------------------------------------------------------------------------


def zip_folder(folder: Path) -> bytes:
    """The folder's files in a zip, ``meeting.yaml`` at the top (hidden files left out)."""
    if not (folder / "meeting.yaml").is_file():
        raise UsageError(f"{folder} không có meeting.yaml (not a meeting pack folder)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if any(part.startswith(".") for part in relative.parts) or path.is_symlink():
                continue
            if path.is_file():
                archive.write(path, relative.as_posix())
    return buffer.getvalue()


async def cmd_pack_push(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} không phải là thư mục")
    async with signed_in(args) as client:
        endpoint = client.protocol.endpoint("POST", r"^/api/packs$")
        if endpoint is None:
            raise UnknownCommand("unknown_endpoint",
                                 "Máy chủ không có API nhập gói họp (POST /api/packs).")
        data = zip_folder(folder)
        response = await client.request(
            "POST", endpoint.path, files={"file": (f"{folder.name}.zip", data, "application/zip")},
            params={"publish": "true"} if args.publish else None, timeout=args.timeout,
        )
        result: dict[str, Any] = response.json()
    if args.json:
        _out(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    _out(f"Đã nhập gói họp: cuộc họp #{result.get('meeting_id')} «{result.get('title')}» "
         f"({display.status_label(result.get('status'))})")
    _out(f"  {result.get('participants')} thành phần · {result.get('items')} mục · "
         f"{result.get('documents')} tài liệu · {result.get('pages')} trang")
    if result.get("created_users"):
        _out("  Tài khoản mới: " + ", ".join(result["created_users"]))
    return 0


# -- call / commands --------------------------------------------------------------------------


def parse_fields(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse (``3``, ``true``, ``["yes"]``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"'{pair}': cần dạng tên=giá_trị (key=value)")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


async def cmd_call(args: argparse.Namespace) -> int:
    fields = parse_fields(args.fields)
    async with signed_in(args) as client:
        info = client.protocol.command(args.name)
        if args.meeting is not None and "meeting_id" in info.fields:
            fields.setdefault("meeting_id", args.meeting)
        if args.name == "meeting.join":
            room = await client.join(int(fields["meeting_id"]), on_event=lambda _e: None)
            answer: dict[str, Any] = {"ok": True, "seq": room.seq, "snapshot": room.snapshot}
        else:
            answer = await client.call(args.name, fields, client_id=args.client_id)
    _out(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0


def cmd_commands(args: argparse.Namespace) -> int:
    from ecabinet_client.schema import Protocol

    protocol = Protocol.load()
    for name, info in sorted(protocol.commands.items()):
        fields = [f for f in info.fields if f not in ("meeting_id", "client_id")]
        _out(f"{name:<24} {', '.join(info.roles):<28} {' '.join(fields)}")
        if args.verbose:
            _out(f"    {info.summary}")
    return 0


# -- entry point ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from ecabinet_client import __version__, loadgen

    common = connection_options()
    parser = argparse.ArgumentParser(
        prog="ecabinet-client",
        description="Command line for an ecabinet server (ECABINET_URL, ECABINET_USER, "
        "ECABINET_PASSWORD or ECABINET_TOKEN).",
    )
    parser.add_argument("--version", action="version", version=f"ecabinet-client {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("meetings", parents=[common], help="list your meetings")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_meetings)

    p = sub.add_parser("follow", parents=[common], help="print a meeting's live events")
    p.add_argument("meeting", type=int, metavar="MEETING", help="meeting id")
    p.add_argument("--json", action="store_true", help="one JSON event per line")
    p.add_argument("--count", type=int, default=0, help="stop after this many events")
    p.set_defaults(run=cmd_follow)

    p = sub.add_parser("vote", parents=[common], help="cast a ballot (poll.cast)")
    p.add_argument("poll", type=int, metavar="POLL", help="poll id")
    p.add_argument("option", nargs="+", metavar="OPTION",
                   help="option id or label; yes/no/abstain (tán thành, không tán thành, ...)")
    p.add_argument("--meeting", type=int, help="meeting id (default: the meeting in session "
                   "that has this poll)")
    p.add_argument("--for", dest="for_participant", type=int, metavar="PARTICIPANT",
                   help="vote the proxy you hold for this participant id")
    p.set_defaults(run=cmd_vote)

    pack = sub.add_parser("pack", help="meeting packs")
    pack_sub = pack.add_subparsers(dest="pack_command", required=True, metavar="COMMAND")
    p = pack_sub.add_parser("push", parents=[common],
                            help="zip a pack folder (meeting.yaml and files) and import it")
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument("--publish", action="store_true", help="publish the meeting at once")
    p.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    p.set_defaults(run=cmd_pack_push)

    p = sub.add_parser("call", parents=[common], help="send any declared command")
    p.add_argument("name", metavar="COMMAND", help="e.g. agenda.next")
    p.add_argument("fields", nargs="*", metavar="FIELD=VALUE", help="payload fields (JSON values)")
    p.add_argument("--meeting", type=int, help="meeting id")
    p.add_argument("--client-id", help="reuse a client id (a retry applies once)")
    p.set_defaults(run=cmd_call)

    p = sub.add_parser("commands", help="list the protocol's commands (roles, fields)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(run=cmd_commands)

    p = sub.add_parser("loadgen", parents=[common], help="simulate many tablets",
                       description=loadgen.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    loadgen.add_arguments(p)
    p.set_defaults(run=loadgen.cmd_loadgen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.run(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except UsageError as exc:
        print(f"ecabinet-client: {exc}", file=sys.stderr)
        return 2
    except InvalidInput as exc:
        print(f"Lỗi: {exc.message} [{exc.code}]", file=sys.stderr)
        for detail in exc.details if isinstance(exc.details, list) else []:
            print(f"  - {detail.get('field', '')}: {detail.get('message', detail)}",
                  file=sys.stderr)
        return 1
    except EcabinetError as exc:
        print(f"Lỗi: {exc.message} [{exc.code}]", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `ecabinet-client commands | head`
        with contextlib.suppress(OSError):  # keep Python's flush at exit quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
