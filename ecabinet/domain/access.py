"""Who may have a meeting document in which form: the one decision table (issue #14).

A document reaches people in many forms (its PDF, its words, its bookmarks, page images,
listings, events, exports, books). Every route, export, command and event that lets any of them
out asks ``decide`` first; ``services.documents.access`` loads what it needs and enforces the
answer. A confidential document (``Document.confidential``: sticky, shared by its versions)
leaves the server only as page images with the viewer's name and time drawn in; observers do
not learn that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ecabinet.domain.roles import MeetingRole, can_see_confidential


class Form(StrEnum):
    """A form in which a document's content or existence can leave the server."""

    LISTING = "listing"  # id, title, status: listings, snapshots, the agenda, presenting
    EVENT = "event"  # an event's payload naming it (document.added, .replaced, .ready, ...)
    PAGE_IMAGE = "page_image"  # a page at tablet or zoom width
    THUMBNAIL = "thumbnail"  # a page at thumbnail width
    TEXT = "text"  # a page's words with their boxes (search hits and highlights use them)
    OUTLINE = "outline"  # its bookmarks (titles and pages)
    PDF = "pdf"  # the file itself
    PACK_EXPORT = "pack_export"  # the pack zip, ``ecabinet pack export``
    BOOK = "book"  # the pack book, over HTTP or from ``ecabinet pack export``
    ANNOTATED_EXPORT = "annotated_export"  # a PDF with the reader's annotations


class Grant(StrEnum):
    FULL = "full"  # as stored
    WATERMARKED = "watermarked"  # page images with the viewer's name and the time drawn in
    LEFT_OUT = "left_out"  # refused on its own; in a collection, a placeholder in its place
    HIDDEN = "hidden"  # as if it did not exist (404, absent from lists, no event)


@dataclass(frozen=True)
class Decision:
    grant: Grant
    code: str = ""  # why it is left out or hidden: a stable error code
    message: str = ""  # the same for people (Vietnamese, English in brackets)

    @property
    def allowed(self) -> bool:
        """Some of it may go out (as stored or watermarked)."""
        return self.grant in (Grant.FULL, Grant.WATERMARKED)

    @property
    def known(self) -> bool:
        """The caller may learn that the document exists (its title, a placeholder)."""
        return self.grant is not Grant.HIDDEN


FULL: Final = Decision(Grant.FULL)
HIDDEN: Final = Decision(Grant.HIDDEN, "document_not_found", "Không tìm thấy tài liệu.")
NO_DOWNLOAD: Final = Decision(
    Grant.LEFT_OUT, "confidential_no_download",
    "Tài liệu mật không được tải về; chỉ xem trên máy tính bảng có đóng dấu tên người xem "
    "(confidential documents cannot be downloaded).",
)
IMAGES_ONLY: Final = Decision(
    Grant.LEFT_OUT, "confidential_images_only",
    "Tài liệu mật chỉ được xem dưới dạng ảnh có đóng dấu tên người xem "
    "(confidential documents are served as watermarked images only).",
)
NO_EXPORT: Final = Decision(
    Grant.LEFT_OUT, "confidential_no_export",
    "Tài liệu mật không được xuất ra tệp; chỉ xem trên máy tính bảng trong phòng họp "
    "(confidential documents are never exported).",
)

# What someone who may see confidential documents gets of one, form by form.
CONFIDENTIAL: Final[dict[Form, Decision]] = {
    Form.LISTING: FULL,
    Form.EVENT: FULL,
    Form.PAGE_IMAGE: Decision(Grant.WATERMARKED),
    Form.THUMBNAIL: Decision(Grant.WATERMARKED),
    Form.TEXT: IMAGES_ONLY,
    Form.OUTLINE: IMAGES_ONLY,  # bookmark titles are the document's words
    Form.PDF: NO_DOWNLOAD,
    Form.PACK_EXPORT: NO_EXPORT,
    Form.BOOK: NO_EXPORT,
    Form.ANNOTATED_EXPORT: NO_EXPORT,
}


def decide(
    role: MeetingRole | None, *, is_admin: bool, confidential: bool, form: Form
) -> Decision:
    """What a reader of the meeting (``role`` in it, or a site admin) gets of a document in
    ``form``. Whether the caller may read the meeting at all is decided before."""
    if not confidential:
        return FULL
    if not can_see_confidential(role, is_admin=is_admin):
        return HIDDEN
    return CONFIDENTIAL[form]
