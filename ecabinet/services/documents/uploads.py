"""Receiving a file into a meeting: who may send one, where it spools, attaching it.

The transport streams the upload to the spool folder (after ``check_uploader``: nobody else gets
to send megabytes), then ``prepare_upload`` checks, converts and stores it, and ``attach_upload``
or ``replace_upload`` records it in the meeting inside the caller's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlmodel import Session

from ecabinet.core.settings import Settings
from ecabinet.domain import lifecycle
from ecabinet.protocol.roles import EDITORS
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.documents import (
    DocumentInfo,
    PreparedFile,
    attach_document,
    describe,
    load_document,
    prepare_file,
    replace_document,
)
from ecabinet.services.kernel.context import CommandContext, load_actor, require_roles
from ecabinet.storage.blobs import BlobStore, storage_errors


def spool_folder(settings: Settings) -> Path:
    """Where uploads are written as they arrive (on the blob store's disk, so that keeping
    one is a rename)."""
    return BlobStore(settings.data_dir).tmp_dir


@contextlib.contextmanager
def spooling() -> Iterator[None]:
    """Writing an upload: the disk filling up is a clear ``storage_full``, not an internal
    error."""
    with storage_errors():
        yield


def check_uploader(session: Session, user: SessionInfo, meeting_id: int) -> None:
    """Refuse before any byte arrives those who may not add documents to the meeting."""
    meeting, actor = load_actor(session, user, meeting_id)
    require_roles(actor, EDITORS, "document.upload")
    lifecycle.check_editable(meeting.status)


def document_meeting(session: Session, user: SessionInfo, document_id: int) -> int:
    """The meeting of a document the caller may see (``document_not_found`` otherwise)."""
    return load_document(session, user, document_id).meeting.id or 0


async def prepare_upload(
    settings: Settings, path: Path, filename: str, password: str | None
) -> PreparedFile:
    """Check, convert and store a received file (in a worker thread; see ``prepare_file``)."""
    return await asyncio.to_thread(prepare_file, settings, path, filename, password)


def attach_upload(
    session: Session, ctx: CommandContext, prepared: PreparedFile, *, title: str,
    confidential: bool, item_id: int | None,
) -> DocumentInfo:
    """Add an uploaded file to the meeting as the actor's document (see
    ``attach_document``)."""
    doc = attach_document(session, ctx, prepared, title=title, confidential=confidential,
                          item_id=item_id, uploaded_by=ctx.actor.user_id)
    return describe(session, doc)


def replace_upload(
    session: Session, ctx: CommandContext, document_id: int, prepared: PreparedFile
) -> DocumentInfo:
    """Make an uploaded file the next version of a document (see ``replace_document``)."""
    doc = replace_document(session, ctx, document_id, prepared, uploaded_by=ctx.actor.user_id)
    return describe(session, doc)
