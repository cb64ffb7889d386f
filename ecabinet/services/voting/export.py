"""Poll results for the minutes: who may read which result, as JSON and as CSV.

The chair, the secretary and admins read a result from the close on (before it is announced);
everyone else in the meeting once it is in the record (published, or cancelled after the
close). Observers get confidential items redacted.
"""

from __future__ import annotations

import io
from typing import Any

from sqlmodel import Session

from ecabinet.core import csvsafe
from ecabinet.core.errors import Conflict, NotFound
from ecabinet.domain.voting import PollStatus
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.services import audit
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import Actor, load_actor, require_roles
from ecabinet.services.voting.views import (
    is_confidential,
    meeting_polls,
    poll_view,
    recorded,
    redacted_result,
    sees_redacted,
)
from ecabinet.storage.database import Database
from ecabinet.storage.models import Meeting, Poll, utcnow

OUTCOMES = {
    "passed": "THÔNG QUA",
    "rejected": "KHÔNG THÔNG QUA",
    "tie": "HÒA PHIẾU",
    "no_quorum": "KHÔNG ĐỦ SỐ THÀNH VIÊN DỰ HỌP",
}


def _staff(actor: Actor) -> bool:
    return actor.is_staff or actor.is_admin


def visible_result(session: Session, actor: Actor, poll: Poll) -> dict[str, Any] | None:
    """The result as this caller may read it now, or None."""
    if poll.result is None:
        return None
    if recorded(poll) or (poll.status == PollStatus.CLOSED.value and _staff(actor)):
        if sees_redacted(actor) and is_confidential(session, poll):
            return redacted_result(poll, poll.result)
        return poll.result
    return None


def list_polls(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    """The meeting's polls for this caller: staff see drafts and unpublished results too."""
    assert meeting.id is not None
    out = []
    for poll in meeting_polls(session, meeting.id):
        if poll.status == PollStatus.DRAFT.value and not _staff(actor):
            continue
        redact = sees_redacted(actor) and is_confidential(session, poll)
        out.append({"poll": poll_view(poll, redact=redact).model_dump(),
                    "result": visible_result(session, actor, poll)})
    return {"meeting_id": meeting.id, "polls": out}


def result_document(
    session: Session, actor: Actor, meeting: Meeting, poll_id: int
) -> dict[str, Any]:
    """A poll and its result, for export; refused while the caller may not read the result."""
    poll = session.get(Poll, poll_id)
    if poll is None or poll.meeting_id != meeting.id or (
        poll.status == PollStatus.DRAFT.value and not _staff(actor)
    ):
        raise NotFound(f"Không có phiếu biểu quyết #{poll_id} (no such poll).",
                       code="poll_not_found")
    result = visible_result(session, actor, poll)
    if result is None:
        raise Conflict(
            "Kết quả chưa được công bố (the result is not published yet)."
            if _staff(actor) or poll.status == PollStatus.CLOSED.value
            else "Phiếu biểu quyết chưa có kết quả (the poll has no result yet).",
            code="result_not_available",
            details={"status": poll.status},
        )
    redact = sees_redacted(actor) and is_confidential(session, poll)
    return {
        "meeting": {"id": meeting.id, "title": meeting.title},
        "poll": poll_view(poll, redact=redact).model_dump(),
        "result": result,
        "exported_at": utcnow().isoformat(),
    }


def result_csv(doc: dict[str, Any]) -> str:
    """The result as a CSV sheet (UTF-8 with a byte-order mark, so spreadsheets read the
    Vietnamese right): a header block, one row per option, then the named list. Text that a
    spreadsheet would take for a formula (a name or a label typed as ``=…``) is written inert;
    counts and weights stay numbers."""
    poll, result = doc["poll"], doc["result"]
    labels = {o["id"]: o["label"] for o in poll["options"]}
    out = io.StringIO()
    out.write("\ufeff")
    w = csvsafe.writer(out, lineterminator="\r\n")
    w.writerow(["Cuộc họp", doc["meeting"]["title"]])
    w.writerow(["Câu hỏi", poll["question"]])
    w.writerow(["Hình thức", "Bỏ phiếu kín" if poll["secret"] else "Biểu quyết công khai"])
    w.writerow(["Quy tắc", result["majority_label"],
                "tính phiếu không biểu quyết" if result["abstentions_count"]
                else "không tính phiếu không biểu quyết"])
    w.writerow(["Kết quả", OUTCOMES.get(result["outcome"], result["outcome"]), result["reason"]])
    q = result["quorum"]
    w.writerow(["Thành viên có quyền biểu quyết", result["eligible"], "Tổng trọng số",
                q["total_weight"]])
    w.writerow(["Có mặt và được ủy quyền (trọng số)", q["counted_weight"], "Cần cho túc số",
                q["required_weight"]])
    w.writerow(["Số phiếu đã bỏ", result["ballots"], "Trọng số đã bỏ", result["weight_cast"]])
    w.writerow([f"Căn cứ tính tỷ lệ: {result['base_label']}", result["base_votes"],
                "Số phiếu cần đạt", result["needed"]])
    if doc.get("audit_anchor"):
        w.writerow(["Mốc nhật ký kiểm toán", doc["audit_anchor"]])
    w.writerow([])
    w.writerow(["Mã phương án", "Phương án", "Số phiếu (theo trọng số)", "Số người",
                "Tỷ lệ (%)", "Đạt"])
    for o in result["options"]:
        w.writerow([o["id"], o["label"], o["votes"], o["ballots"], o["percent"],
                    "có" if o["passed"] else "không"])
    if result.get("votes"):
        w.writerow([])
        w.writerow(["Người biểu quyết", "Trọng số", "Lựa chọn", "Bỏ phiếu thay bởi"])
        for v in result["votes"]:
            chosen = "; ".join(labels.get(c, c) for c in v["choice"]) or "(phiếu trắng)"
            w.writerow([v["full_name"], v["weight"], chosen, v["cast_by_name"] or ""])
    return out.getvalue()


async def export_result(
    db: Database, user: SessionInfo, meeting_id: int, poll_id: int, fmt: str, address: str
) -> dict[str, Any]:
    """A poll's result for download as ``fmt`` (json or csv: ``result_csv`` writes the sheet),
    as ``result_document`` gives it; every export goes into the audit trail, and carries the
    trail's head (``audit_anchor``, ``SEQ:HASH``) to keep with the minutes."""

    def export(session: Session) -> dict[str, Any]:
        meeting, actor = load_actor(session, user, meeting_id)
        require_roles(actor, MEETING_READERS, "poll.result")
        doc = result_document(session, actor, meeting, poll_id)
        audit.record(session, audit.EXPORT, actor_id=user.user_id, subject=f"poll:{poll_id}",
                     details={"what": "poll_result", "format": fmt, "meeting_id": meeting_id},
                     address=address)
        # The audit trail's head, this export's record included, goes out on the paper that
        # enters the minutes: a copy of it kept outside the database (docs/security.md).
        doc["audit_anchor"] = str(audit.current_anchor(session))
        return doc

    return await db.write(export)
