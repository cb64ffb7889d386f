"""Calendar invitations (iCalendar, RFC 5545) for a meeting, addressed to one participant or all.

Written by hand (the format is small): UTF-8 text, CRLF line ends, lines folded at 75 octets
without splitting a UTF-8 sequence, TEXT values escaped, times in UTC. ``UID`` is stable per
meeting and ``SEQUENCE`` follows the pack version, so a calendar updates the event it already
has when the invitation is downloaded again after a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from ecabinet import __version__
from ecabinet.core.errors import Conflict, NotFound
from ecabinet.core.text import nfc_trimmed
from ecabinet.domain.roles import MeetingRole, MeetingStatus
from ecabinet.services.kernel.context import Actor
from ecabinet.services.meetings.agenda import agenda_items
from ecabinet.services.meetings.participants import ROLE_LABELS
from ecabinet.storage.models import Body, Meeting, Participant, User, utcnow

CRLF = "\r\n"
LIMIT = 75  # octets per line, CRLF excluded (RFC 5545 §3.1)
PRODID = f"-//ecabinet//ecabinet {__version__}//VI"


@dataclass(frozen=True)
class Person:
    full_name: str
    address: str  # a cal-address URI: mailto: when the account has an e-mail
    role: str | None = None
    is_chair: bool = False


def fold(line: str) -> str:
    """Fold one content line at 75 octets; continuation lines start with a space."""
    data = line.encode("utf-8")
    if len(data) <= LIMIT:
        return line
    parts: list[str] = []
    start, limit = 0, LIMIT
    while start < len(data):
        end = min(start + limit, len(data))
        # Never cut inside a UTF-8 sequence: back off over continuation bytes (10xxxxxx).
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, LIMIT - 1  # the leading space counts
    return (CRLF + " ").join(parts)


def escape_text(value: str) -> str:
    """Escape a TEXT value (§3.3.11): backslash, semicolon, comma and newlines."""
    value = nfc_trimmed(value).replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def param_value(value: str) -> str:
    """A parameter value (§3.2): quoted when it holds ``:;,``; DQUOTE and controls dropped."""
    clean = "".join(ch for ch in nfc_trimmed(value) if ch != '"' and (ch >= " " or ch == "\t"))
    return f'"{clean}"' if any(ch in clean for ch in ":;,") else clean


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def address_of(user: User) -> str:
    # A cal-address is a URI; accounts without an e-mail get a stable URN rather than a made-up
    # address that a mail client would try to write to.
    return f"mailto:{user.email}" if user.email else f"urn:ecabinet:user:{user.username}"


def _person_line(name: str, person: Person, organizer: bool = False) -> str:
    params = [f"CN={param_value(person.full_name)}"]
    if not organizer:
        role = (
            "CHAIR"
            if person.is_chair
            else (
                "NON-PARTICIPANT"
                if person.role == MeetingRole.OBSERVER.value
                else "REQ-PARTICIPANT"
            )
        )
        params += [f"ROLE={role}", "PARTSTAT=NEEDS-ACTION", "CUTYPE=INDIVIDUAL", "RSVP=FALSE"]
    return f"{name};{';'.join(params)}:{person.address}"


def render(
    *,
    uid: str,
    sequence: int,
    stamp: datetime,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    location: str,
    description: str,
    organizer: Person | None,
    attendees: Sequence[Person],
    status: str = "CONFIRMED",
    url: str | None = None,
) -> str:
    """The text of a one-event calendar (METHOD:REQUEST) with a reminder 30 minutes before."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{utc_stamp(stamp)}",
        f"DTSTART:{utc_stamp(starts_at)}",
        f"DTEND:{utc_stamp(ends_at)}",
        f"SUMMARY;LANGUAGE=vi:{escape_text(summary)}",
        f"STATUS:{status}",
    ]
    if location:
        lines.append(f"LOCATION;LANGUAGE=vi:{escape_text(location)}")
    if description:
        lines.append(f"DESCRIPTION;LANGUAGE=vi:{escape_text(description)}")
    if url:
        lines.append(f"URL:{url}")
    if organizer is not None:
        lines.append(_person_line("ORGANIZER", organizer, organizer=True))
    lines.extend(_person_line("ATTENDEE", person) for person in attendees)
    lines += [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{escape_text(summary)}",
        "TRIGGER:-PT30M",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + CRLF for line in lines)


def _description(
    meeting: Meeting, body: Body | None, items: Iterable[tuple[str, str]], role: str | None
) -> str:
    parts = []
    if body is not None:
        parts.append(body.name)
    if meeting.description:
        parts.append(meeting.description)
    if role:
        parts.append(f"Vai trò của quý vị: {role}.")
    agenda = [f"{number}. {title}" for number, title in items]
    if agenda:
        parts.append("Chương trình:\n" + "\n".join(agenda))
    return "\n\n".join(parts)


def invitation(
    session: Session,
    actor: Actor,
    meeting: Meeting,
    *,
    participant_id: int | None,
    everyone: bool,
    host: str,
) -> tuple[str, str]:
    """The calendar text and a file name for one participant (default: the caller) or everyone.

    Staff (and admins) may ask for another participant's invitation or for the whole meeting;
    others get their own. The agenda in the description is redacted for observers.
    """
    assert meeting.id is not None
    if meeting.starts_at is None:
        raise Conflict(
            "Cuộc họp chưa có giờ bắt đầu (the meeting has no start time yet).",
            code="meeting_not_scheduled",
        )
    staff = actor.is_staff or actor.is_admin
    if (participant_id is not None and participant_id != actor.participant_id) or everyone:
        if not staff:
            raise NotFound("Không tìm thấy người dự họp.", code="participant_not_found")
    target_id = participant_id if participant_id is not None else actor.participant_id
    rows = session.exec(
        select(Participant, User)
        .join(User, User.id == Participant.user_id)  # type: ignore[arg-type]
        .where(Participant.meeting_id == meeting.id)
        .order_by(Participant.id)  # type: ignore[arg-type]
    ).all()
    target = next(((p, u) for p, u in rows if p.id == target_id), None)
    if participant_id is not None and target is None:
        raise NotFound(f"Không có người dự họp #{participant_id}.", code="participant_not_found")
    people = {
        p.id: Person(u.full_name, address_of(u), p.role, p.role == MeetingRole.CHAIR.value)
        for p, u in rows
    }
    secretary = next((p.id for p, _u in rows if p.role == MeetingRole.SECRETARY.value), None)
    organizer = people.get(secretary) if secretary is not None else None
    if everyone:
        attendees = list(people.values())
        redact = False
        role_label = None
    elif target is not None:
        attendees = [people[target[0].id]]
        redact = target[0].role == MeetingRole.OBSERVER.value
        role_label = ROLE_LABELS[MeetingRole(target[0].role)]
    else:  # an admin who takes no part: the meeting without attendees
        attendees, redact, role_label = [], False, None
    items = agenda_items(session, meeting.id, redact=redact)
    minutes = sum(i.planned_minutes or 0 for i in items if i.depth == 1)
    ends_at = meeting.ends_at or meeting.starts_at + timedelta(minutes=max(minutes, 60))
    body = session.get(Body, meeting.body_id) if meeting.body_id else None
    status = "TENTATIVE" if meeting.status == MeetingStatus.DRAFT.value else "CONFIRMED"
    text = render(
        uid=f"meeting-{meeting.id}@{host}",
        sequence=meeting.pack_version,
        stamp=utcnow(),
        starts_at=meeting.starts_at,
        ends_at=ends_at,
        summary=meeting.title,
        location=meeting.place,
        description=_description(meeting, body, ((i.number, i.title) for i in items), role_label),
        organizer=organizer,
        attendees=attendees,
        status=status,
    )
    suffix = "" if everyone or target is None else f"-{target[1].username}"
    return text, f"cuoc-hop-{meeting.id}{suffix}.ics"
