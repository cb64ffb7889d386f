"""Who may send a command or call an endpoint: the ``Role`` type and the role sets in use.

Meeting roles come from the participants table (``chair``, ``secretary``, ``delegate``,
``observer``); ``participant`` means any role in the meeting; ``user`` any signed-in account;
``admin`` a site admin; ``anonymous`` anyone, signed in or not. Declarations name one of the sets
below rather than spelling a set out, so that one question ("who reads a meeting?") has one answer.
"""

from __future__ import annotations

from typing import Final, Literal

Role = Literal[
    "chair", "secretary", "delegate", "observer", "participant", "admin", "user", "anonymous"
]
Roles = frozenset[Role]

ANYONE: Final[Roles] = frozenset({"anonymous"})
SIGNED_IN: Final[Roles] = frozenset({"user"})
ADMINS: Final[Roles] = frozenset({"admin"})
# Any participant of the meeting, and site admins: reading the meeting and its documents.
MEETING_READERS: Final[Roles] = frozenset({"participant", "admin"})
# Any participant, but no admin who is not one: acting in the room as a member.
PARTICIPANTS: Final[Roles] = frozenset({"participant"})
# Changing a meeting's preparation: its secretaries and site admins.
EDITORS: Final[Roles] = frozenset({"secretary", "admin"})
# The meeting's staff and site admins: its changes, exports, the console, its status.
STAFF: Final[Roles] = frozenset({"chair", "secretary", "admin"})
CHAIR: Final[Roles] = frozenset({"chair"})
CHAIR_AND_SECRETARY: Final[Roles] = frozenset({"chair", "secretary"})
# Who may speak, present or ask for the floor: members of the meeting, not observers.
MEMBERS: Final[Roles] = frozenset({"chair", "secretary", "delegate"})
# Ending one's own turn at the floor (the chair ends anyone's).
SPEAKER_OR_CHAIR: Final[Roles] = frozenset({"chair", "delegate"})
