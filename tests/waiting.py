"""Waiting on a condition instead of sleeping a fixed time: the suite's one polling helper.

``wait_until`` (plain code) and ``until`` (coroutines) call ``check`` until it returns something
truthy and return that, or fail with :class:`ConditionTimeout` naming the condition. A check may
raise to fail at once (a document whose rendering *failed* will never be *ready*). Where the code
under test offers a notification (an ``asyncio.Event``, a Socket.IO event, Playwright's
auto-waiting ``expect``), wait on that instead of polling.

A fixed sleep stays only where time itself is what is tested (a rate-limit window, a slow client)
or to give something the chance to happen that must not; such a sleep says why in a comment.

Written here rather than taken from a library: busypie (the Awaitility port on PyPI) runs every
synchronous wait on a new thread with its own event loop (measured: 102 ms for a condition that
is already true, and the check runs off the test's thread, where an ``httpx.Client`` or a SQLite
connection of the test must not be used), and it installs a top-level ``backports`` package; a
retry library (tenacity) needs as many lines to configure as this loop has.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import httpx
import redis.asyncio as aioredis

T = TypeVar("T")
What = str | Callable[[], str]

# Short enough not to add latency a person would notice in a test's duration, long enough not to
# keep a core busy while the other worker runs its tests.
INTERVAL = 0.02


class ConditionTimeout(AssertionError):
    """A condition waited on did not come true in time (a test failure, not an error)."""


def _fail(what: What, timeout: float) -> ConditionTimeout:
    described = what() if callable(what) else what
    return ConditionTimeout(f"waited {timeout:g} s for: {described}")


def wait_until(check: Callable[[], T], what: What, *, timeout: float = 10,
               interval: float = INTERVAL) -> T:
    """Call ``check`` until it returns something truthy; return it.

    ``what`` names the condition (or is called, at the time of failure, to describe the state
    seen), e.g. ``"document 3 is rendered"``.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise _fail(what, timeout)
        time.sleep(interval)


@overload
async def until(check: Callable[[], Awaitable[T]], what: What, *, timeout: float = ...,
                interval: float = ...) -> T: ...
@overload
async def until(check: Callable[[], T], what: What, *, timeout: float = ...,
                interval: float = ...) -> T: ...
async def until(check: Callable[[], Any], what: What, *, timeout: float = 10,
                interval: float = INTERVAL) -> Any:
    """``wait_until`` for coroutines: sleeps without blocking the event loop, and ``check`` may
    be a coroutine function (an HTTP request, a Redis query)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise _fail(what, timeout)
        await asyncio.sleep(interval)


async def wait_subscribed(redis_url: str, channel: str, count: int, *,
                          timeout: float = 10) -> None:
    """Wait until ``count`` server processes listen on the Socket.IO Redis ``channel``.

    A process subscribes in the background when its first client connects; until then what
    another process publishes does not reach it.
    """
    client = aioredis.Redis.from_url(redis_url)
    seen = [0]

    async def enough() -> bool:
        [(_name, number)] = await client.pubsub_numsub(channel)
        seen[0] = int(number)
        return seen[0] >= count

    try:
        await until(enough, lambda: f"{count} processes subscribed to the Redis channel "
                    f"{channel} (seen {seen[0]})", timeout=timeout)
    finally:
        await client.aclose()


def wait_healthy(proc: subprocess.Popen[bytes], url: str, name: str, output: Callable[[], str],
                 *, timeout: float = 120, interval: float = 0.05) -> None:
    """Wait until the server process ``proc`` answers ``url``/healthz; fail at once, with its
    ``output``, if it exits first."""

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited at start:\n{output()}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, lambda: f"{name} answers {url}/healthz:\n{output()}", timeout=timeout,
               interval=interval)
