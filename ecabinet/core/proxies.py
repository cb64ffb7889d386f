"""Forwarded headers believed only from the configured reverse proxies, and the site's origin.

A reverse proxy tells the server who the client is (``X-Forwarded-For``), which scheme it used
(``-Proto``) and which host it asked for (``-Host``). From anyone else those headers are lies
for the taking: a made-up address escapes the sign-in limits and fills the audit trail with it,
a made-up host passes the Socket.IO origin check (issue #14, finding 16). ``TrustedProxies``
wraps the whole application (both transports): when the peer is one of
``ECABINET_TRUSTED_PROXIES`` it applies the headers to the ASGI scope (``client``, ``scheme``,
the ``host`` header), and from every peer it removes them, so that nothing further in (Starlette,
Engine.IO's own checks) can believe them by mistake.

Written here rather than taken from uvicorn's ``ProxyHeadersMiddleware``: that one leaves
``X-Forwarded-Host`` aside and the headers in place, where python-engineio reads them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")
DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_networks(value: str) -> tuple[Network, ...]:
    """``"10.0.0.2, 192.168.1.0/24"`` as networks; ``ValueError`` names a bad entry."""
    networks = []
    for item in value.split(","):
        if item := item.strip():
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"not an address or network: {item!r}") from None
    return tuple(networks)


def _is_in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a unix socket or a test client's made-up name
    return any(ip in network for network in networks)


def _values(raw: list[bytes]) -> list[str]:
    return [v.strip() for value in raw for v in value.decode("latin-1").split(",") if v.strip()]


def _plausible_host(host: str) -> bool:
    return bool(host) and len(host) <= 255 and not any(c in host for c in " /\\@?#")


class TrustedProxies:
    """ASGI middleware: apply the forwarded headers of trusted proxies, drop everyone's."""

    def __init__(self, app: ASGIApp, networks: tuple[Network, ...]) -> None:
        self.app = app
        self.networks = networks

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self.apply(scope)
        await self.app(scope, receive, send)

    def apply(self, scope: Scope) -> Scope:
        """A copy of ``scope`` as the client sent it to the proxy (when the peer is trusted),
        without forwarded headers either way."""
        forwarded: dict[bytes, list[bytes]] = {}
        headers = []
        for name, value in scope.get("headers", []):
            if name in FORWARDED:
                forwarded.setdefault(name, []).append(value)
            else:
                headers.append((name, value))
        scope = dict(scope, headers=headers)
        peer = scope.get("client")
        if not forwarded or not peer or not _is_in(peer[0], self.networks):
            return scope
        # Each proxy appends the address it received from: the client is the last one that is
        # not a proxy of ours (those before it could have been written by the client).
        for address in reversed(_values(forwarded.get(b"x-forwarded-for", []))):
            if not _is_in(address, self.networks):
                scope["client"] = (address, 0)
                break
        # Scheme and host as set by the proxy that talks to us (the last value).
        protos = _values(forwarded.get(b"x-forwarded-proto", []))
        if protos and protos[-1] in ("http", "https"):
            secure = protos[-1] == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = protos[-1]
        hosts = _values(forwarded.get(b"x-forwarded-host", []))
        if hosts and _plausible_host(hosts[-1]):
            scope["headers"] = [(n, v) for n, v in headers if n != b"host"]
            scope["headers"].append((b"host", hosts[-1].encode("latin-1")))
        return scope


def _origin_parts(scheme: str, netloc: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port


def site_origin(scope: Scope) -> tuple[str, str, int | None] | None:
    """This site's origin as the browser sees it: the scheme and ``Host`` of the request,
    which ``TrustedProxies`` has set from a trusted proxy's headers when there is one."""
    raw: str = scope.get("scheme", "http")
    scheme = {"ws": "http", "wss": "https"}.get(raw, raw)
    host = next((v.decode("latin-1") for n, v in scope.get("headers", []) if n == b"host"), "")
    return _origin_parts(scheme, host) if host else None


def is_same_origin(scope: Scope, origin: str | None) -> bool:
    """Whether a browser's ``Origin`` header names this site (``null`` and absent: no)."""
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    claimed = _origin_parts(parts.scheme, parts.netloc) if parts.scheme in DEFAULT_PORTS else None
    own = site_origin(scope)
    return claimed is not None and claimed == own


def handshake_origin_allowed(origin: str | None, environ: MutableMapping[str, Any]) -> bool:
    """python-engineio's ``cors_allowed_origins`` check for the Socket.IO handshake: the same
    origin rule as for HTTP requests, on the ASGI scope (not the environ's ``X-Forwarded-*``,
    which engine.io would take from anyone). It is asked only when a browser sent an Origin."""
    return is_same_origin(environ["asgi.scope"], origin)
