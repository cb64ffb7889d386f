"""Imports every module that declares commands, events, endpoints or snapshot parts.

Feature modules live in ``ecabinet.services`` and declare themselves with the decorators of
``ecabinet.protocol`` and ``ecabinet.services.snapshot``; adding a module to FEATURES is all it
takes to serve it.
"""

from __future__ import annotations

import importlib

FEATURES = (
    "ecabinet.services.room",
    "ecabinet.services.publishing",
    "ecabinet.services.presenting",
    "ecabinet.services.timer",
    "ecabinet.services.attendance",
    "ecabinet.services.speakers",
    "ecabinet.services.participants",
    "ecabinet.services.agenda_edit",
    "ecabinet.services.meetings_admin",
    "ecabinet.services.polls",
    "ecabinet.services.documents",
    "ecabinet.services.annotations",
    "ecabinet.services.annotation_carry",
    "ecabinet.services.live_ink",
)


def load() -> None:
    for name in FEATURES:
        importlib.import_module(name)
