"""``ecabinet watermark identify``: whose viewing a leaked confidential page image was."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

IDENTIFY_HELP = """\
Every confidential page image the server sends carries an invisible mark naming its viewing,
an audit record (viewer, document, page, time). This reads the mark back (also from a copy
re-saved as JPEG, scaled down to half size or cropped to 60 % of the page) and prints that
record. Needs the server's secret (ECABINET_SECRET_KEY or the data folder's secret_key) and its
database. Exit status: 0 when at least one image named a viewing, 1 when none did, 2 on a
configuration error.
"""


def _settings() -> Any:
    from ecabinet.core.settings import Settings

    return Settings().prepare()


def _describe(name: str, viewing: Any, timezone: str) -> str:
    at = viewing.at.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M:%S")
    who = f"{viewing.full_name} ({viewing.username})" if viewing.username else (
        f"người dùng #{viewing.user_id}")
    document = (f"#{viewing.document_id} “{viewing.document_title}”"
                if viewing.document_id is not None else "(không còn trong cơ sở dữ liệu)")
    meeting = (f"#{viewing.meeting_id} “{viewing.meeting_title}”"
               if viewing.meeting_id is not None else "(không rõ)")
    scale = f"{viewing.scale:.2f}".replace(".", ",")
    confidence = f"{viewing.confidence:.1f}".replace(".", ",")
    return "\n".join([
        f"{name}: lượt xem #{viewing.view} (độ tin cậy {confidence}; ảnh bằng {scale} lần "
        "ảnh gốc)",
        f"  Người xem:  {who}",
        f"  Tài liệu:   {document}",
        f"  Cuộc họp:   {meeting}",
        f"  Trang:      {viewing.page if viewing.page is not None else '?'} ({viewing.size})",
        f"  Thời điểm:  {at} ({timezone})",
        f"  Địa chỉ:    {viewing.address or '(không rõ)'}",
    ])


def cmd_watermark_identify(args: argparse.Namespace) -> int:
    from ecabinet.app import open_database
    from ecabinet.core.errors import EcabinetError
    from ecabinet.services.documents import tracing

    settings = _settings()
    secret = settings.secret_key or ""
    db = open_database(settings)
    found = 0
    try:
        for name in args.images:
            try:
                data = Path(name).read_bytes()
            except OSError as exc:
                print(f"{name}: không mở được tệp ({exc.strerror or exc}).")
                continue
            try:
                mark = tracing.read_mark(data, secret)
            except EcabinetError as exc:
                print(f"{name}: {exc.message}")
                continue
            finding = db.run_sync(tracing.identify, mark, secret)
            if finding.viewing is not None:
                found += 1
                print(_describe(name, finding.viewing, settings.timezone))
            elif finding.view is not None:
                print(f"{name}: đọc được dấu của lượt xem #{finding.view}, nhưng nhật ký kiểm "
                      "toán không có lượt xem đó (cơ sở dữ liệu khác, hoặc bản ghi đã mất).")
            else:
                print(f"{name}: không tìm thấy dấu ẩn của lượt xem nào trong ảnh này.")
    finally:
        db.close()
    if not found:
        print("Không xác định được lượt xem nào.", file=sys.stderr)
        return 1
    return 0


def add_watermark_commands(sub: Any) -> None:
    """Add ``watermark identify`` to the ``ecabinet`` command line."""
    watermark = sub.add_parser(
        "watermark",
        help="trace a leaked confidential page image",
        description="The invisible marks in confidential page images.",
    )
    watermark_sub = watermark.add_subparsers(
        dest="watermark_command", required=True, metavar="COMMAND"
    )
    identify = watermark_sub.add_parser(
        "identify",
        help="print the viewer, document, page and time an image was served for",
        description=IDENTIFY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    identify.add_argument("images", nargs="+", metavar="IMAGE",
                          help="image files (JPEG, PNG, WebP...)")
    identify.set_defaults(func=cmd_watermark_identify)
