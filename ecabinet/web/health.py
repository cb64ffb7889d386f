"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import ANYONE
from ecabinet.web.common import runtime


@endpoint("GET", "/healthz", roles=ANYONE, summary="Liveness: the process answers.")
async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@endpoint(
    "GET",
    "/readyz",
    roles=ANYONE,
    summary="Readiness: the database and, when configured, Redis answer (503 otherwise). "
    "`conversion` says whether Word, Excel and PowerPoint files are converted here (checked at "
    "start-up); it is optional and never makes the answer 503.",
)
async def readyz(request: Request) -> Response:
    rt = runtime(request)
    checks: dict[str, Any] = {}
    ok = True
    try:
        await asyncio.wait_for(asyncio.to_thread(rt.db.ping), timeout=5)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        ok = False
        checks["database"] = f"error: {type(exc).__name__}"
    if rt.settings.redis_url:
        try:
            from redis.asyncio import Redis

            client = Redis.from_url(rt.settings.redis_url, socket_connect_timeout=2)
            try:
                await asyncio.wait_for(client.ping(), timeout=3)
            finally:
                await client.aclose()
            checks["redis"] = "ok"
        except Exception as exc:
            ok = False
            checks["redis"] = f"error: {type(exc).__name__}"
    # Office conversion is optional (PDF uploads need none of it): reported, never "not ready",
    # so a load balancer does not take a server out for lacking LibreOffice.
    problem = rt.conversion_problem
    checks["conversion"] = "ok" if problem is None else f"unavailable: {problem}"
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


@endpoint(
    "GET",
    "/metrics",
    roles=ANYONE,
    summary="Prometheus metrics (connected clients, events sent, render queue depth, sign-ins).",
)
async def metrics(request: Request) -> Response:
    return Response(runtime(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)

