"""Shared steps for the annotation tests: real PDFs, documents in a room, a device's replica."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pymupdf
from sqlmodel import Session

from ecabinet.core.text import nfc
from ecabinet.pdf.fonts import find_font
from ecabinet.pdf.render import page_text
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.models import AgendaItemDocument, Blob, Document
from tests.conftest import LiveServer
from tests.realtime.client import Tablet, sign_in

A4 = (595.0, 842.0)
Line = tuple[float, float, str]  # x, baseline y, text


def make_pdf(pages: Sequence[Sequence[Line]], size: tuple[float, float] = A4,
             rotations: Sequence[int] = ()) -> bytes:
    """A PDF whose pages carry the given lines of (Vietnamese) text."""
    font = find_font().data
    doc = pymupdf.open()
    for number, lines in enumerate(pages):
        page = doc.new_page(width=size[0], height=size[1])
        page.insert_font(fontname="noto", fontbuffer=font)
        for x, y, text in lines:
            page.insert_text((x, y), nfc(text), fontname="noto", fontsize=12)
        if number < len(rotations) and rotations[number]:
            page.set_rotation(rotations[number])
    data: bytes = doc.tobytes()
    doc.close()
    return data


def words(pdf: bytes, page: int) -> list[list[Any]]:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        found: list[list[Any]] = page_text(doc, page)["words"]
        return found


def find_words(pdf: bytes, page: int, text: str) -> list[list[Any]]:
    """The word boxes spelling ``text`` (consecutive words) on a page."""
    wanted = nfc(text).split()
    found = words(pdf, page)
    for start in range(len(found)):
        if [w[4] for w in found[start:start + len(wanted)]] == wanted:
            return found[start:start + len(wanted)]
    raise AssertionError(f"{text!r} not on page {page}")


def highlight_of(pdf: bytes, page: int, text: str) -> dict[str, Any]:
    boxes = find_words(pdf, page, text)
    rect = [min(w[0] for w in boxes), min(w[1] for w in boxes), max(w[2] for w in boxes),
            max(w[3] for w in boxes)]
    return {"kind": "highlight", "rects": [rect], "text": text}


def page_sizes(pdf: bytes) -> list[list[float]]:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return [[round(p.rect.width, 2), round(p.rect.height, 2)] for p in doc]


def store_document(app: Any, mid: int, pdf: bytes, *, title: str = "Báo cáo",
                   confidential: bool = False, item_id: int | None = None) -> int:
    """A ready document made of ``pdf`` (stored as the upload would store it)."""
    store = BlobStore(Path(app.runtime.settings.data_dir))
    sha = store.put_bytes(pdf)
    sizes = page_sizes(pdf)

    def write(session: Session) -> int:
        if session.get(Blob, sha) is None:
            session.add(Blob(sha256=sha, size=len(pdf), media_type="application/pdf",
                             page_count=len(sizes), page_sizes=sizes, status="ready",
                             pages_ready=len(sizes)))
            session.flush()
        doc = Document(meeting_id=mid, blob_sha256=sha, title=title,
                       filename=f"{title}.pdf", confidential=confidential)
        session.add(doc)
        session.flush()
        assert doc.id is not None
        if item_id is not None:
            session.add(AgendaItemDocument(agenda_item_id=item_id, document_id=doc.id))
        return doc.id

    doc_id: int = app.runtime.db.run_sync(write)
    return doc_id


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ink(*points: tuple[float, float]) -> dict[str, Any]:
    return {"kind": "ink", "strokes": [[list(p) for p in points]], "colour": "#D32F2F",
            "width": 2.0}


def note(x: float, y: float, text: str) -> dict[str, Any]:
    return {"kind": "note", "at": [x, y], "text": text}


async def device(live_server: LiveServer, username: str) -> Tablet:
    """A connected device of ``username`` (signed in once per server and person)."""
    tokens: dict[str, str] = live_server.__dict__.setdefault("annotation_tokens", {})
    if username not in tokens:
        tokens[username] = await sign_in(live_server.url, username)
    tablet = Tablet(live_server.url, tokens[username])
    await tablet.sio.connect(live_server.url, transports=["websocket"],
                             auth={"token": tablet.token})
    return tablet


async def joined(live_server: LiveServer, username: str, mid: int
                 ) -> tuple[Tablet, dict[str, Any]]:
    tablet = await device(live_server, username)
    answer = await tablet.call("meeting.join", {"meeting_id": mid})
    assert answer["ok"], answer
    return tablet, answer


async def visible(live_server: LiveServer, username: str, mid: int) -> dict[str, dict[str, Any]]:
    """What a fresh device of ``username`` gets in the ``annotations`` part, by uid and author."""
    tablet, answer = await joined(live_server, username, mid)
    await tablet.close()
    return {f"{a['author']['user_id']}:{a['uid']}": a
            for a in answer["snapshot"]["annotations"]}


async def create(tablet: Tablet, mid: int, document_id: int, page: int, data: dict[str, Any],
                 visibility: str = "private", uid: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"meeting_id": mid, "document_id": document_id, "page": page,
                               "visibility": visibility, "data": data}
    if uid is not None:
        payload["uid"] = uid
    answer = await tablet.call("annotation.create", payload)
    assert answer["ok"], answer
    return answer


# All that a logged annotation event may say of an annotation (``annotation.removed`` adds why).
REFERENCE_KEYS = {"id", "uid", "author_id", "document_id", "version"}


class Replica:
    """A device's picture of the annotations it reads, built only from what the server sends
    (the snapshot part, events, acks) plus its own optimistic changes while offline."""

    def __init__(self, part: list[dict[str, Any]] | None = None) -> None:
        self.items: dict[int, dict[str, Any]] = {a["id"]: a for a in part or []}
        self.queue: list[tuple[str, dict[str, Any]]] = []  # (command, payload) while offline
        self.local: dict[str, dict[str, Any]] = {}  # offline creations by uid
        # Logged references to versions this device holds no contents of (id -> version): what
        # it would fetch. A connected device gets the contents live first, so none.
        self.wanted: dict[int, int] = {}

    def reset(self, part: list[dict[str, Any]]) -> None:
        """The authoritative part of a (re)join replaces everything."""
        self.items = {a["id"]: a for a in part}
        self.local.clear()

    def apply(self, envelope: dict[str, Any]) -> None:
        kind = envelope["type"]
        if kind == "annotation.saved":  # logged: references only, never contents
            for ref in envelope["payload"]["annotations"]:
                assert set(ref) == REFERENCE_KEYS, ref
                mine = self.items.get(ref["id"])
                if mine is None or mine["version"] < ref["version"]:
                    self.wanted[ref["id"]] = max(ref["version"], self.wanted.get(ref["id"], 0))
        elif kind.startswith("annotation.saved"):
            for item in envelope["payload"]["annotations"]:
                mine = self.items.get(item["id"])
                if mine is None or mine["version"] <= item["version"]:
                    self.items[item["id"]] = item
                if self.wanted.get(item["id"], 0) <= item["version"]:
                    self.wanted.pop(item["id"], None)
        elif kind.startswith("annotation.removed"):
            for item in envelope["payload"]["annotations"]:
                mine = self.items.get(item["id"])
                if mine is not None and mine["version"] <= item["version"]:
                    del self.items[item["id"]]
                if self.wanted.get(item["id"], 0) <= item["version"]:
                    self.wanted.pop(item["id"], None)

    def offline(self, name: str, payload: dict[str, Any]) -> None:
        """A change made without a connection: applied locally, queued with its client id."""
        body = {**payload, "client_id": uuid.uuid4().hex}
        self.queue.append((name, body))

    def state(self) -> dict[str, dict[str, Any]]:
        """Comparable state: by author and uid, without timestamps."""
        return {
            f"{a['author']['user_id']}:{a['uid']}": {
                k: a[k] for k in ("document_id", "page", "kind", "visibility", "data", "version",
                                  "orphaned_from_document_id")
            }
            for a in self.items.values()
        }


def comparable(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        key: {k: a[k] for k in ("document_id", "page", "kind", "visibility", "data", "version",
                                "orphaned_from_document_id")}
        for key, a in items.items()
    }


async def settles(tablet: Tablet, part: list[dict[str, Any]],
                  expected: dict[str, dict[str, Any]], timeout: float = 10) -> Replica:
    """The replica built from ``part`` and the tablet's events reaches ``expected``."""
    import asyncio

    async def converge() -> Replica:
        while True:
            tablet.changed.clear()
            replica = Replica(part)
            for envelope in tablet.events:
                replica.apply(envelope)
            if replica.state() == expected:
                return replica
            await tablet.changed.wait()

    try:
        replica = await asyncio.wait_for(converge(), timeout)
    except TimeoutError:
        replica = Replica(part)
        for envelope in tablet.events:
            replica.apply(envelope)
        assert replica.state() == expected  # shows the difference
        raise
    # Connected, it got every annotation's contents live: nothing left to fetch.
    assert replica.wanted == {}
    return replica
