"""Importing a parsed pack: the meeting, its participants, agenda and documents, in the caller's
one transaction (``packs.spec`` parses and checks ``meeting.yaml``; ``packs.transfer`` opens
folders and zips, prepares the files and runs the import's phases)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from ecabinet.core.errors import InvalidInput
from ecabinet.core.text import nfc_trimmed
from ecabinet.services import accounts, bodies, documents
from ecabinet.services.kernel.context import Actor, CommandContext, OutEvent
from ecabinet.services.meetings.agenda import link_document
from ecabinet.services.meetings.participants import resolve_vote
from ecabinet.services.packs.spec import (
    PACK_FILE,
    AgendaItemSpec,
    LoadedPack,
    PackSpec,
    document_specs,
    pack_error,
    participant_problems,
)
from ecabinet.storage.models import AgendaItem, Body, Meeting, Participant, User, utcnow


def ensure_users(session: Session, spec: PackSpec, password: str) -> list[User]:
    """Create the pack's participants that have no account yet (the demo does this)."""
    created = []
    for p in spec.participants:
        if accounts.get_user(session, p.user) is None:
            created.append(accounts.create_user(session, p.user, password, p.full_name or p.user))
    return created


def find_or_create_body(session: Session, name: str, *, create: bool) -> Body | None:
    """The body of that name; with ``create``, a new one with the default rules when none is."""
    body = bodies.find_body_by_name(session, name)
    if body is None and create:
        body = Body(name=nfc_trimmed(name))
        session.add(body)
        session.flush()
    return body


def import_pack(
    session: Session,
    spec: PackSpec,
    prepared: Mapping[str, documents.PreparedFile] | None = None,
    *,
    uploaded_by: int | None = None,
    create_body: bool = True,
) -> Meeting:
    """Create the meeting, its participants, agenda and documents in the caller's transaction.

    ``prepared`` maps each document's ``file`` to its stored, sanitised file (packs.transfer);
    without it the documents are left out. Raises ``InvalidInput`` listing unknown users, or
    the participant rules broken by a spec that did not come through ``parse_pack`` or
    ``transfer.check_pack`` (they check them with the lines).
    """
    rules = participant_problems(LoadedPack(spec, None, PACK_FILE))
    if rules:
        raise pack_error(rules)
    users: dict[str, int] = {}
    unknown = []
    for p in spec.participants:
        user = accounts.get_user(session, p.user)
        if user is None or user.id is None:
            unknown.append(p.user)
        else:
            users[p.user] = user.id
    if unknown:
        raise InvalidInput(
            "Người dùng chưa có tài khoản (unknown users): " + ", ".join(unknown),
            code="unknown_users",
            details=[{"field": "participants", "message": u} for u in unknown],
        )
    body_id = None
    if spec.meeting.body:
        body = find_or_create_body(session, spec.meeting.body, create=create_body)
        if body is None:
            raise InvalidInput(
                f"Không có cơ quan '{spec.meeting.body}' (unknown body).",
                code="invalid_pack",
                details=[{"field": "meeting.body", "message": "unknown body"}],
            )
        body_id = body.id
    m = spec.meeting
    meeting = Meeting(
        title=m.title,
        body_id=body_id,
        place=m.place,
        description=m.description,
        starts_at=m.starts_at,
        ends_at=m.ends_at,
    )
    session.add(meeting)
    session.flush()
    assert meeting.id is not None
    rows: dict[str, Participant] = {}
    for p in spec.participants:
        row = Participant(
            meeting_id=meeting.id,
            user_id=users[p.user],
            role=p.role.value,
            can_vote=resolve_vote(p.role, p.vote),
            vote_weight=p.weight,
        )
        session.add(row)
        rows[p.user] = row
    session.flush()
    lower = {u.strip().lower(): row for u, row in rows.items()}
    for p in spec.participants:
        if p.proxy_holder:
            rows[p.user].proxy_holder_id = lower[p.proxy_holder.strip().lower()].id
    items = _add_items(session, meeting.id, spec.agenda, parent_id=None)
    if prepared is not None:
        attach_prepared(session, meeting, spec, items, prepared, uploaded_by=uploaded_by)
    return meeting


def _add_items(
    session: Session, meeting_id: int, items: list[AgendaItemSpec], parent_id: int | None
) -> dict[int, AgendaItem]:
    """Create the items; return them keyed by ``id()`` of their spec."""
    made: dict[int, AgendaItem] = {}
    for position, item in enumerate(items):
        row = AgendaItem(
            meeting_id=meeting_id,
            parent_id=parent_id,
            position=position,
            title=nfc_trimmed(item.title),
            presenter=nfc_trimmed(item.presenter),
            description=nfc_trimmed(item.description),
            planned_minutes=item.minutes,
            confidential=item.confidential,
            vote_planned=item.vote,
        )
        session.add(row)
        session.flush()
        made[id(item)] = row
        made.update(_add_items(session, meeting_id, item.items, parent_id=row.id))
    return made


class _ImportContext(CommandContext):
    """A context for filling a brand-new meeting: its log starts after the import, so the
    events that attaching documents would describe are not written."""

    def emit(
        self, type_: str, payload: Any, *, user_id: int | None = None, observer_payload: Any = None
    ) -> OutEvent:
        assert self.meeting.id is not None
        return OutEvent(self.meeting.id, None, type_, {}, "meeting", utcnow())


def attach_prepared(
    session: Session,
    meeting: Meeting,
    spec: PackSpec,
    items: Mapping[int, AgendaItem],
    prepared: Mapping[str, documents.PreparedFile],
    *,
    uploaded_by: int | None,
) -> None:
    """Attach the pack's documents in order; a file named twice is one document on both items."""
    actor = Actor(uploaded_by or 0, "", "", True, None, None)
    ctx = _ImportContext(session, meeting, actor)
    made: dict[str, int] = {}
    for _loc, doc, item_spec in document_specs(spec):
        item = items[id(item_spec)] if item_spec is not None else None
        if doc.file in made:
            if item is not None:
                link_document(session, item, made[doc.file])
            continue
        row = documents.attach_document(
            session,
            ctx,
            prepared[doc.file],
            title=doc.title or "",
            confidential=doc.confidential,
            item_id=item.id if item is not None else None,
            uploaded_by=uploaded_by,
        )
        assert row.id is not None
        made[doc.file] = row.id
