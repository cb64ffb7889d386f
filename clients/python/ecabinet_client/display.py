"""Meeting events as one readable Vietnamese line each (what ``ecabinet-client follow`` prints).

Known event types get a sentence; any other type (a newer server) is shown by its name and its
short fields, so following never breaks on a protocol addition.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ecabinet_client.events import CONNECTION, PRIVATE, SNAPSHOT, Event

STATUS = {
    "draft": "bản nháp",
    "published": "đã công bố",
    "in_session": "đang họp",
    "closed": "đã kết thúc",
    "archived": "đã lưu trữ",
}
ROLES = {
    "chair": "chủ tọa",
    "secretary": "thư ký",
    "delegate": "đại biểu",
    "observer": "quan sát viên",
}
ATTENDANCE = {"present": "có mặt", "absent": "vắng mặt", "excused": "vắng có phép",
              "unknown": "chưa điểm danh"}
POLL_OPTIONS = {"yes": "Tán thành", "no": "Không tán thành", "abstain": "Không biểu quyết"}


def status_label(status: str | None) -> str:
    return STATUS.get(status or "", status or "?")


def role_label(role: str | None) -> str:
    return ROLES.get(role or "", role or "—")


def _name(person: Any) -> str:
    if isinstance(person, dict):
        return str(person.get("full_name") or person.get("username") or f"#{person.get('id')}")
    return "—"


def _item(p: dict[str, Any]) -> str:
    if p.get("item_id") is None:
        return "Chưa vào mục nào của chương trình"
    number = p.get("number")
    return f"Chuyển sang mục {number} — {p.get('title')}" if number else f"Mục #{p['item_id']}"


def _present(p: dict[str, Any]) -> str:
    if p.get("document_id") is None:
        return "Ngừng trình chiếu"
    page = (p.get("page") or 0) + 1
    count = p.get("page_count")
    who = p.get("presenter")
    by = f" (trình bày: {_name(who)})" if who else ""
    of = f"/{count}" if count else ""
    return f"Trình chiếu «{p.get('title') or 'tài liệu'}», trang {page}{of}{by}"


def _speakers(p: dict[str, Any]) -> str:
    speaking = p.get("speaking")
    waiting = [_name(t) for t in p.get("waiting") or []]
    now = f"Đang phát biểu: {_name(speaking)}" if speaking else "Không ai đang phát biểu"
    queue = ", ".join(waiting) if waiting else "không có"
    return f"{now}; đăng ký chờ: {queue}"


def _clock(seconds: float | int | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _timer(p: dict[str, Any]) -> str:
    actions = {"start": "bắt đầu", "pause": "tạm dừng", "reset": "đặt lại", "extend": "gia hạn"}
    action = actions.get(str(p.get("action")), str(p.get("action") or "cập nhật"))
    planned = p.get("planned_seconds")
    state = "đang chạy" if p.get("running") else "dừng"
    return (f"Đồng hồ {action} ({state}): đã dùng {_clock(p.get('elapsed_seconds'))}"
            f" / dự kiến {_clock(planned)}")


def _attendance(p: dict[str, Any]) -> str:
    status = ATTENDANCE.get(str(p.get("status")), str(p.get("status")))
    quorum = p.get("quorum") or {}
    reached = "đủ" if quorum.get("reached") else "chưa đủ"
    return (f"Điểm danh: {p.get('full_name')} — {status}; túc số {reached} "
            f"({quorum.get('counted_weight', '?')}/{quorum.get('required_weight', '?')})")


def _poll(p: dict[str, Any]) -> dict[str, Any]:
    poll = p.get("poll")
    return poll if isinstance(poll, dict) else p


def _poll_opened(p: dict[str, Any]) -> str:
    poll = _poll(p)
    options = ", ".join(f"{o.get('id')}={o.get('label')}" for o in poll.get("options") or [])
    kind = "bỏ phiếu kín" if poll.get("secret") else "biểu quyết công khai"
    return (f"Mở biểu quyết #{poll.get('id')} ({kind}): {poll.get('question')}"
            + (f" [{options}]" if options else ""))


def _poll_result(p: dict[str, Any]) -> str:
    result: dict[str, Any] = p["result"] if isinstance(p.get("result"), dict) else p
    poll = _poll(p)
    options = result.get("options") or []
    counts = ", ".join(
        f"{o.get('label') or POLL_OPTIONS.get(str(o.get('id')), o.get('id'))}: "
        f"{o.get('votes', o.get('count', o.get('weight', '?')))}"
        for o in options if isinstance(o, dict)
    )
    adopted = result.get("adopted")
    verdict = "" if adopted is None else (" — THÔNG QUA" if adopted else " — KHÔNG THÔNG QUA")
    poll_id = poll.get("id") or p.get("poll_id") or result.get("poll_id")
    return f"Kết quả biểu quyết #{poll_id}: {counts or '(chưa có số liệu)'}{verdict}"


def _progress(p: dict[str, Any]) -> str:
    return (f"Biểu quyết #{p.get('poll_id')}: {p.get('voted', p.get('cast', '?'))}/"
            f"{p.get('eligible', p.get('total', '?'))} đã bỏ phiếu")


def _document(p: dict[str, Any]) -> str:
    doc = p.get("document") or {}
    pages = f", {doc['page_count']} trang" if doc.get("page_count") else ""
    return f"Tài liệu mới: «{doc.get('title') or doc.get('filename')}»{pages}"


def _connection(p: dict[str, Any]) -> str:
    state = p.get("state")
    if state == "lost":
        return "Mất kết nối — đang kết nối lại…"
    if state == "restored":
        return "Đã kết nối lại, đã đồng bộ các sự kiện bị lỡ"
    return f"Không thể kết nối lại: {p.get('message') or p.get('code')}"


FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "meeting.status": lambda p: f"Trạng thái cuộc họp: {status_label(p.get('status'))} "
    f"(trước đó: {status_label(p.get('previous'))})",
    "meeting.updated": lambda p: f"Thông tin cuộc họp thay đổi: "
    f"{(p.get('meeting') or {}).get('title', '')}",
    "meeting.pack_version": lambda p: f"Bộ tài liệu họp có phiên bản mới: {p.get('pack_version')}",
    "agenda.current": _item,
    "agenda.changed": lambda p: f"Chương trình họp thay đổi ({len(p.get('items') or [])} mục, "
    f"phiên bản {p.get('pack_version')})",
    "present.changed": _present,
    "speaker.queue": _speakers,
    "timer.changed": _timer,
    "attendance.changed": _attendance,
    "participants.changed": lambda p: "Danh sách thành phần thay đổi: "
    f"{len(p.get('participants') or [])} người",
    "presence.changed": lambda p: f"Người dùng #{p.get('user_id')} "
    f"{'trực tuyến' if p.get('online') else 'ngoại tuyến'} ({p.get('devices', 0)} thiết bị)",
    "document.added": _document,
    "document.replaced": lambda p: f"Tài liệu được thay bằng phiên bản mới: "
    f"«{(p.get('document') or {}).get('title')}»",
    "document.ready": lambda p: f"Tài liệu đã sẵn sàng ({p.get('page_count')} trang)"
    if p.get("status") == "ready" else f"Tài liệu lỗi khi xử lý: {p.get('error')}",
    "document.progress": lambda p: f"Đang xử lý tài liệu: {p.get('pages_ready')}/"
    f"{p.get('page_count')} trang",
    "poll.opened": _poll_opened,
    "poll.closed": lambda p: f"Đóng biểu quyết #{p.get('poll_id')}",
    "poll.cancelled": lambda p: f"Hủy biểu quyết #{p.get('poll_id')}",
    "poll.published": _poll_result,
    "poll.result": _poll_result,
    "poll.progress": _progress,
    CONNECTION: _connection,
    PRIVATE: lambda p: "Đã đồng bộ lại phần riêng của bạn",
}


def _fallback(event: Event) -> str:
    payload = event.payload
    if isinstance(payload, dict):
        short = {k: v for k, v in payload.items() if isinstance(v, str | int | float | bool)}
        text = json.dumps(short, ensure_ascii=False)
    else:
        text = json.dumps(payload, ensure_ascii=False)
    return f"{event.type}: {text[:160]}"


def describe(event: Event) -> str:
    """One readable sentence for an event."""
    fmt = FORMATS.get(event.type)
    if fmt is None or not isinstance(event.payload, dict):
        return _fallback(event)
    try:
        return fmt(event.payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        return _fallback(event)


def clock(event: Event) -> str:
    stamp = datetime.fromisoformat(event.at).astimezone() if event.at else \
        datetime.fromtimestamp(event.received).astimezone()
    return stamp.strftime("%H:%M:%S")


def line(event: Event) -> str:
    """``10:02:03  #12  Chuyển sang mục 2.1 — Thu ngân sách``."""
    seq = f"#{event.seq}" if event.seq is not None else "  ·"
    return f"{clock(event)}  {seq:>5}  {describe(event)}"


def snapshot_summary(snapshot: dict[str, Any]) -> list[str]:
    """The header ``follow`` prints after joining (or after a fresh snapshot)."""
    meeting = snapshot.get("meeting") or {}
    agenda = snapshot.get("agenda") or {}
    items = agenda.get("items") or []
    current = next((i for i in items if i.get("id") == agenda.get("current_item_id")), None)
    you = meeting.get("you") or {}
    out = [
        f"Cuộc họp #{meeting.get('id')}: {meeting.get('title')}",
        f"  Trạng thái: {status_label(meeting.get('status'))}"
        + (f" · Địa điểm: {meeting['place']}" if meeting.get("place") else ""),
        f"  Bạn tham dự với vai trò: {role_label(you.get('role'))}",
        f"  Chương trình: {len(items)} mục"
        + (f" · Đang ở mục {current.get('number')} — {current.get('title')}" if current else ""),
    ]
    presenting = snapshot.get("presenting")
    if isinstance(presenting, dict) and presenting.get("document_id") is not None:
        out.append("  " + _present(presenting))
    return out


def snapshot_event(event: Event) -> list[str]:
    assert event.type == SNAPSHOT
    return [f"{clock(event)}  {'#' + str(event.seq):>5}  Ảnh chụp trạng thái (snapshot)",
            *snapshot_summary(event.payload)]
