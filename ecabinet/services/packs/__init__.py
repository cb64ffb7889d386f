"""Meeting packs: a folder (or zip) holding ``meeting.yaml`` and the documents it names.

- ``packs.spec``: the format, parsed and checked (every problem at once, with its line);
- ``packs.importing``: a parsed pack becomes a meeting in the caller's one transaction;
- ``packs.transfer``: opening folders and zips, preparing the files, the import's phases, and
  exporting a meeting as a pack.

Other capabilities and the adapters use the names below (and ``packs.transfer``).
"""

from __future__ import annotations

from ecabinet.services.packs.importing import ensure_users, find_or_create_body, import_pack
from ecabinet.services.packs.spec import (
    PACK_FILE,
    AgendaItemSpec,
    DocumentSpec,
    LoadedPack,
    MeetingSpec,
    PackSpec,
    ParticipantSpec,
    consistency_problems,
    document_specs,
    file_problems,
    load_pack,
    pack_error,
    parse_pack,
    read_loaded,
    read_pack,
    user_problems,
)

__all__ = [
    "PACK_FILE",
    "AgendaItemSpec",
    "DocumentSpec",
    "LoadedPack",
    "MeetingSpec",
    "PackSpec",
    "ParticipantSpec",
    "consistency_problems",
    "document_specs",
    "ensure_users",
    "file_problems",
    "find_or_create_body",
    "import_pack",
    "load_pack",
    "pack_error",
    "parse_pack",
    "read_loaded",
    "read_pack",
    "user_problems",
]
