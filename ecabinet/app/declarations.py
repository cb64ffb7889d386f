"""Every declaration of the protocol, loaded: the composition root imports the declaring modules.

Commands, events, endpoints and snapshot parts are declared when their modules are imported, so
anything that reads the whole protocol (the docs, the client's schema file, tests that walk every
command) calls ``load_declarations`` first. It lives here, above the transports, because the
protocol package itself imports none of the layers that declare into it.
"""

from __future__ import annotations

from ecabinet.protocol import REGISTRY, Registry
from ecabinet.realtime import join, server
from ecabinet.services.kernel import features
from ecabinet.web import routes


def load_declarations() -> Registry:
    """Import every module that declares commands, events or endpoints; return the registry."""
    features.load()
    # The transports declare what they serve themselves (joining, the HTTP routes).
    assert join and server and routes
    return REGISTRY
