"""Imports every module that declares commands, events, endpoints or snapshot parts.

Feature modules live in ``ecabinet.services`` and declare themselves with the decorators of
``ecabinet.protocol`` and ``ecabinet.services.kernel.snapshot``; adding a module to FEATURES
is all it takes to serve it.
"""

from __future__ import annotations

import importlib

FEATURES = (
    "ecabinet.services.kernel.joining",
    "ecabinet.services.kernel.membership",
    "ecabinet.services.room",
    "ecabinet.services.meetings.versions",
    "ecabinet.services.room.presenting",
    "ecabinet.services.room.timer",
    "ecabinet.services.room.attendance",
    "ecabinet.services.room.speakers",
    "ecabinet.services.meetings.participants",
    "ecabinet.services.meetings.agenda",
    "ecabinet.services.meetings.admin",
    "ecabinet.services.voting.polls",
    "ecabinet.services.documents",
    "ecabinet.services.documents.reclassify",
    "ecabinet.services.annotations",
    "ecabinet.services.annotations.carry",
    "ecabinet.services.annotations.live_ink",
)


def load() -> None:
    for name in FEATURES:
        importlib.import_module(name)
