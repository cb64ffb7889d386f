"""Tracing a confidential page image back to the viewing it was made for.

Each confidential page image that leaves the server is one *viewing*: an audit record
(``document.confidential_view``: viewer, document, page, size, time, address) written and
committed before the image is made, whose number in the trail is the view number. The image
carries that number twice over (``ecabinet.pdf.watermark``):

- in the visible stamp's layout, drawn from a seed that only the server can make (an HMAC of
  the view number under a key derived from the server secret), so no two images share a stamp
  that could be subtracted or averaged away;
- in an invisible mark (``ecabinet.pdf.tracemark``) that survives JPEG re-compression, scaling
  and cropping, and that ``identify`` (``ecabinet watermark identify IMAGE``) reads back and
  looks up in the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from PIL import Image, UnidentifiedImageError
from sqlmodel import Session

from ecabinet.core.errors import InvalidInput
from ecabinet.core.logs import get_logger
from ecabinet.pdf import tracemark
from ecabinet.pdf.watermark import Trace, watermark_image
from ecabinet.services import audit
from ecabinet.services.documents import DocumentAccess
from ecabinet.storage.models import Document, Meeting, User

log = get_logger(__name__)

# A mark is searched for in images up to this size (a zoom rendition is 2560 x 3623).
MAX_PIXELS = 40_000_000


@lru_cache(maxsize=4)
def _key(secret_key: str) -> bytes:
    return tracemark.derive_key(secret_key)


def record_view(session: Session, access: DocumentAccess, page: int, size: str,
                address: str) -> int:
    """Audit one confidential page image about to be sent; its record's number is the view
    number the image will carry. Commit before sending: an image that went out always has its
    record."""
    document_id = access.document.id or 0
    row = audit.record(
        session,
        audit.CONFIDENTIAL_VIEW,
        actor_id=access.actor.user_id,
        subject=f"document:{document_id}",
        details={"meeting_id": access.meeting.id, "page": page, "size": size},
        address=address,
    )
    return row.seq


def stamp(image: bytes, lines: Sequence[str], secret_key: str, view: int) -> bytes:
    """The page image with the viewer's stamp laid out for this view and its invisible mark."""
    key = _key(secret_key)
    seed = hmac.new(key, b"stamp" + view.to_bytes(8, "big"), hashlib.sha256).digest()
    return watermark_image(image, lines, seed=seed,
                           trace=Trace(key, tracemark.view_payload(key, view)))


@dataclass(frozen=True)
class Viewing:
    """A viewing found from an image: who saw which page when, and how sure the finding is."""

    view: int
    at: datetime
    user_id: int | None
    username: str
    full_name: str
    document_id: int | None
    document_title: str
    meeting_id: int | None
    meeting_title: str
    page: int | None
    size: str
    address: str
    confidence: float  # the mark's sync peak in standard deviations (6 at least)
    scale: float  # the image's size against the page as served


@dataclass(frozen=True)
class Finding:
    """What an image showed: a viewing, or a mark whose number the trail does not hold
    (``viewing`` None, ``view`` set), or no mark at all (both None)."""

    viewing: Viewing | None = None
    view: int | None = None


def read_mark(data: bytes, secret_key: str) -> tracemark.Mark | None:
    """The mark in an image file (JPEG, PNG, WebP...), or None; ``InvalidInput`` when the file
    is no image this can read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput(
                    f"Ảnh quá lớn ({image.width} x {image.height} điểm ảnh).",
                    code="image_too_large",
                )
            image.load()
            return tracemark.find_mark(image, _key(secret_key))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"Không đọc được ảnh: {exc}", code="not_an_image") from None


def identify(session: Session, mark: tracemark.Mark | None, secret_key: str) -> Finding:
    """The viewing that a mark (``read_mark``) names in the audit trail."""
    if mark is None:
        return Finding()
    view = tracemark.view_of(_key(secret_key), mark.payload)
    if view is None:  # pragma: no cover - find_mark returns only marks whose check holds
        return Finding()
    row = audit.record_at(session, view)
    if row is None or row.action != audit.CONFIDENTIAL_VIEW:
        return Finding(view=view)
    user = session.get(User, row.actor_id) if row.actor_id is not None else None
    prefix, _, number = row.subject.partition(":")
    document = (session.get(Document, int(number))
                if prefix == "document" and number.isdigit() else None)
    meeting_id = row.details.get("meeting_id")
    meeting = session.get(Meeting, meeting_id) if isinstance(meeting_id, int) else None
    page = row.details.get("page")
    return Finding(
        viewing=Viewing(
            view=view,
            at=row.at,
            user_id=row.actor_id,
            username=user.username if user else "",
            full_name=user.full_name if user else "",
            document_id=document.id if document else None,
            document_title=document.title if document else "",
            meeting_id=meeting.id if meeting else None,
            meeting_title=meeting.title if meeting else "",
            page=page if isinstance(page, int) else None,
            size=str(row.details.get("size", "")),
            address=row.address,
            confidence=mark.confidence,
            scale=mark.scale,
        ),
        view=view,
    )
