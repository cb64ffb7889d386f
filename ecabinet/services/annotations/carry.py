"""Carrying annotations to the new version of a replaced document.

When a document is replaced (``document.replaced``), every annotation on the old version is
placed on the new one where ``ecabinet.domain.anchoring`` finds its text (a highlight's words,
or the words around an ink stroke or a note), on the same page or wherever the text moved. The
rest move to the new version too, but keep their old page and geometry and are marked with
``orphaned_from_document_id`` (the version their coordinates belong to): clients list them beside
the document ("kept from the previous version") and their author may place them again with
``annotation.update``; nothing is dropped. Each author gets ``annotation.carried`` with what
happened to their annotations, and every reader gets the annotations' new state.

The work runs after the replacement's commit, in the background: reading the old and new
versions' words (from the render cache, else from the PDF, in a worker thread) is kept out of
the database transaction. The same sweep runs when an annotation arrives on a version that was
already replaced (a device replaying offline work) and when a document finishes rendering (so a
sweep lost to a restart is made up). It is idempotent: what it finds to do is exactly the live
annotations that sit on a replaced version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlmodel import Session, col, select

from ecabinet.core.logs import get_logger
from ecabinet.domain.anchoring import Placement
from ecabinet.pdf.annotate import ToPlace, VersionFile, place_all
from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.isolation import run_isolated
from ecabinet.protocol import Schema, event
from ecabinet.services.annotations import author_names, is_secret
from ecabinet.services.annotations.events import Outbox, view_of
from ecabinet.services.kernel.context import OutEvent, make_event
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.database import Database
from ecabinet.storage.models import Annotation, Blob, Document, Meeting, utcnow

log = get_logger(__name__)
MAX_CHAIN: Final = 100  # versions followed from a replaced document to the current one
MAX_ROUNDS: Final = 5  # sweeps in a row when annotations change while being carried
PLACE_TIMEOUT: Final = 300.0  # seconds for reading two versions' words (2,000 pages ~ 30 s)
TRIGGERS: Final = ("document.replaced", "document.ready")
Publish = Callable[[list[OutEvent]], Awaitable[None]]


class CarriedItem(Schema):
    id: int
    uid: str
    page: int
    how: str  # text (its words were found), context (the words around it), same (kept in place)


class KeptItem(Schema):
    id: int
    uid: str
    page: int  # in the version it was made on
    from_document_id: int


class AnnotationsCarried(Schema):
    document_id: int  # the current version
    carried: list[CarriedItem]
    kept: list[KeptItem]  # not placed: marked orphaned_from_document_id, still there


event("annotation.carried", AnnotationsCarried, audience="user", logged=False,
      sent_by="a document replaced by a new version",
      summary="What happened to the recipient's annotations when their document got a new "
      "version: `carried` ones were placed on it (where their text is), `kept` ones could not "
      "be and stay marked as from the previous version. Their new state comes in the "
      "saved events (`annotation.saved.live`, `.staff`, `.own`); this one is for telling the "
      "author.")


@dataclass(frozen=True)
class Version:
    document_id: int
    sha256: str
    page_count: int
    page_sizes: list[Any] | None


@dataclass(frozen=True)
class Pending:
    """A live annotation on a replaced version, and where it is to go."""

    id: int
    version: int
    kind: str
    page: int
    data: dict[str, Any]
    source: Version  # the version its page and geometry refer to
    target: Version  # the current version of its document


@dataclass(frozen=True)
class Outcome:
    pending: Pending
    placement: Placement | None


def _version(session: Session, doc: Document) -> Version | None:
    blob = session.get(Blob, doc.blob_sha256)
    if blob is None or doc.id is None:
        return None
    return Version(doc.id, blob.sha256, blob.page_count or 0, blob.page_sizes)


def _current(session: Session, doc: Document) -> Document:
    seen = 0
    while doc.replaced_by_id is not None and seen < MAX_CHAIN:
        newer = session.get(Document, doc.replaced_by_id)
        if newer is None:
            break
        doc, seen = newer, seen + 1
    return doc


def pending(session: Session, meeting_id: int) -> list[Pending]:
    """The meeting's live annotations that sit on a replaced version."""
    rows = session.exec(
        select(Annotation, Document)
        .where(Annotation.meeting_id == meeting_id, Annotation.deleted == False)  # noqa: E712
        .where(Annotation.document_id == Document.id)
        .where(col(Document.replaced_by_id).is_not(None))
        .order_by(col(Annotation.id))
    ).all()
    out: list[Pending] = []
    for row, doc in rows:
        source_doc = doc
        if row.orphaned_from_document_id is not None:
            source_doc = session.get(Document, row.orphaned_from_document_id) or doc
        source = _version(session, source_doc)
        target = _version(session, _current(session, doc))
        if source is None or target is None or row.id is None:
            continue
        out.append(Pending(row.id, row.version, row.kind, row.page, dict(row.data), source,
                           target))
    return out


def _file(store: BlobStore, version: Version) -> VersionFile:
    return VersionFile(str(store.path(version.sha256)), version.sha256, version.page_count,
                       version.page_sizes, str(store.renditions_dir))


def plan(store: BlobStore, items: Iterable[Pending]) -> list[Outcome]:
    """Where each annotation goes (blocking: reads page words with MuPDF in a child process;
    call it from a worker thread). A failure leaves that group for the next sweep."""
    groups: dict[tuple[str, str], list[Pending]] = {}
    for item in items:
        groups.setdefault((item.source.sha256, item.target.sha256), []).append(item)
    outcomes: list[Outcome] = []
    for group in groups.values():
        source, target = group[0].source, group[0].target
        todo = [ToPlace(item.id, item.kind, item.page, item.data) for item in group]
        try:
            placed = dict(run_isolated(place_all, _file(store, source), _file(store, target),
                                       todo, timeout=PLACE_TIMEOUT))
        except PdfError as exc:
            log.warning("annotation.carry_failed", code=exc.code, message=exc.message,
                        annotations=len(group))
            continue
        outcomes += [Outcome(item, placed.get(item.id)) for item in group]
    return outcomes


def apply(session: Session, meeting_id: int, outcomes: list[Outcome]) -> tuple[list[OutEvent],
                                                                               bool]:
    """Write the outcomes and return the events; ``True`` as well when some annotation changed
    meanwhile (left for the next sweep)."""
    meeting = session.get(Meeting, meeting_id, with_for_update=True)
    if meeting is None:
        return [], False
    changed_meanwhile = False
    outbox = Outbox()
    told: dict[int, AnnotationsCarried] = {}
    rows: list[tuple[Annotation, Outcome]] = []
    for outcome in outcomes:
        item = outcome.pending
        row = session.get(Annotation, item.id, with_for_update=True)
        if row is None or row.deleted:
            continue
        if row.version != item.version:
            changed_meanwhile = True
            continue
        rows.append((row, outcome))
    names = author_names(session, (row.author_id for row, _ in rows))
    now = utcnow()
    for row, outcome in rows:
        item, placement = outcome.pending, outcome.placement
        note = told.setdefault(
            row.author_id,
            AnnotationsCarried(document_id=item.target.document_id, carried=[], kept=[]),
        )
        row.document_id = item.target.document_id
        if placement is not None:
            row.page, row.data = placement.page, placement.data
            row.orphaned_from_document_id = None
            note.carried.append(CarriedItem(id=row.id or 0, uid=row.uid, page=row.page,
                                            how=placement.how))
        else:
            row.orphaned_from_document_id = item.source.document_id
            note.kept.append(KeptItem(id=row.id or 0, uid=row.uid, page=row.page,
                                      from_document_id=item.source.document_id))
        row.version += 1
        row.updated_at = now
        session.add(row)
        target = session.get(Document, item.target.document_id)
        outbox.save(view_of(row, names.get(row.author_id, "")),
                    secret=target is not None and is_secret(session, target))
    session.flush()
    events: list[OutEvent] = []

    def emit(type_: str, payload: Any, *, user_id: int | None = None,
             observer_payload: Any = None) -> OutEvent:
        out = make_event(session, meeting_id, type_, payload, actor_id=None, user_id=user_id,
                         observer_payload=observer_payload)
        events.append(out)
        return out

    outbox.emit(emit)
    for author_id, note in told.items():
        emit("annotation.carried", note, user_id=author_id)
    return events, changed_meanwhile


class AnnotationCarrier:
    """Runs carry sweeps after the commits that call for them, one at a time per meeting."""

    def __init__(self, db: Database, store: BlobStore, publish: Publish) -> None:
        self.db = db
        self.store = store
        self.publish = publish
        self._running: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()

    @classmethod
    def over(cls, db: Database, data_dir: Path, publish: Publish) -> AnnotationCarrier:
        """A carrier reading the documents of the blob store in ``data_dir`` (for the realtime
        adapter, which opens no storage itself)."""
        return cls(db, BlobStore(data_dir), publish)

    def notice(self, events: Iterable[OutEvent]) -> None:
        """Look at committed events on their way out; start the sweeps they call for."""
        for ev in events:
            if ev.type in TRIGGERS or (
                ev.type.startswith("annotation.saved")
                and any(a.get("carry_pending") for a in ev.payload.get("annotations", ()))
            ):
                self.schedule(ev.meeting_id)

    def schedule(self, meeting_id: int) -> None:
        if meeting_id in self._running:
            self._again.add(meeting_id)
            return
        task = asyncio.get_running_loop().create_task(self._run(meeting_id))
        self._running[meeting_id] = task

    async def _run(self, meeting_id: int) -> None:
        try:
            for _round in range(MAX_ROUNDS):
                self._again.discard(meeting_id)
                items = await self.db.read(pending, meeting_id)
                if items:
                    outcomes = await asyncio.to_thread(plan, self.store, items)
                    events, again = await self.db.write(apply, meeting_id, outcomes)
                    if events:
                        await self.publish(events)
                    if again:
                        self._again.add(meeting_id)
                if meeting_id not in self._again:
                    return
        except RuntimeError:  # shutting down: the database's workers are gone
            return
        except Exception:  # the next trigger (a rendered document, a new version) retries
            log.exception("annotation.carry_sweep_failed", meeting_id=meeting_id)
        finally:
            self._running.pop(meeting_id, None)

    async def idle(self) -> None:
        """Wait until no sweep runs (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)
