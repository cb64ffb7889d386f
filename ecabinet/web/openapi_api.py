"""The OpenAPI 3.1 document of the HTTP API, rendered once per process from the declarations."""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet import __version__
from ecabinet.protocol import REGISTRY, endpoint, openapi
from ecabinet.protocol.roles import ANYONE


@cache
def _document() -> dict[str, Any]:
    # Every endpoint is declared by the time a request arrives: the routes come from them.
    return openapi.document(REGISTRY, version=__version__)


@endpoint(
    "GET",
    "/api/openapi.json",
    roles=ANYONE,
    summary="This API as an OpenAPI 3.1 document, generated from the same declarations as the "
    "routes: paths and their parameters, bodies, roles, security and the error codes.",
    tag="meta",
)
async def openapi_json(request: Request) -> Response:
    return JSONResponse(_document(), headers={"Cache-Control": "no-cache"})
