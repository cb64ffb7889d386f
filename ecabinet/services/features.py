"""Imports every module that declares commands, events, endpoints or snapshot parts.

Feature modules live in ``ecabinet.services`` and declare themselves with the decorators of
``ecabinet.protocol`` and ``ecabinet.services.snapshot``; adding a module to FEATURES is all it
takes to serve it.
"""

from __future__ import annotations

import importlib

FEATURES = ("ecabinet.services.room",)


def load() -> None:
    for name in FEATURES:
        importlib.import_module(name)
