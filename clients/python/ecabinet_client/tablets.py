"""The simulated tablet and the driver (the chair) of the load generator, with its accounting.

A ``Tablet`` is one ``ecabinet_client.Client`` that behaves like a delegate's device; ``Stats``
collects latencies by kind. ``ecabinet_client.loadgen`` runs many of them across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from ecabinet_client.client import Client
from ecabinet_client.errors import Conflict, EcabinetError
from ecabinet_client.events import CONNECTION, SNAPSHOT, Event
from ecabinet_client.schema import Protocol

PAGE_PATH = r"/api/documents/\{document_id(:int)?\}/pages/\{page(:int)?\}/\{size\}"


@dataclass
class Config:
    url: str
    meeting_id: int
    tablets: int = 10
    processes: int = 2
    tokens: list[str] = field(default_factory=list)  # one per tablet (repeats allowed)
    duration: float = 20.0
    chair_token: str | None = None  # the driver; None: follow whatever happens
    step: float = 2.0  # seconds between the driver's actions
    polls: bool = True
    poll_window: float = 4.0
    pages: str | None = "auto"  # "auto", a path template with {document_id} {page} {size}, None
    page_size: str = "tablet"
    vote_delay: float = 1.5  # tablets vote within this many seconds of a poll opening
    annotate_rate: float = 0.0  # annotations per tablet per minute
    drop_rate: float = 0.0  # connection drops per tablet per minute
    drop_for: tuple[float, float] = (0.5, 3.0)
    check_in: bool = False  # tablets check in on joining (polls need a quorum)
    connect_concurrency: int = 20
    http_connections: int = 64
    ack_timeout: float = 15.0
    settle: float = 5.0  # seconds after the driver stops for the last events to arrive
    seed: int = 1


class Stats:
    """Latency samples (seconds) by key, and counters."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self.counts: Counter[str] = Counter()

    def add(self, key: str, seconds: float) -> None:
        self.samples.setdefault(key, []).append(seconds)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def merge(self, other: dict[str, Any]) -> None:
        for key, values in other["samples"].items():
            self.samples.setdefault(key, []).extend(values)
        self.counts.update(other["counts"])

    def dump(self) -> dict[str, Any]:
        return {"samples": self.samples, "counts": dict(self.counts)}

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for key, values in sorted(self.samples.items()):
            ordered = sorted(values)
            out[key] = {
                "n": len(ordered),
                "p50_ms": round(1000 * _quantile(ordered, 0.50), 1),
                "p90_ms": round(1000 * _quantile(ordered, 0.90), 1),
                "p99_ms": round(1000 * _quantile(ordered, 0.99), 1),
                "max_ms": round(1000 * ordered[-1], 1),
            }
        return out


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def example_value(schema: dict[str, Any], defs: dict[str, Any], hints: dict[str, Any],
                  name: str = "") -> Any:
    """A small value that fits ``schema``; named fields take their value from ``hints``."""
    if name in hints:
        return hints[name]
    if "$ref" in schema:
        return example_value(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs, hints, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_value(options[0], defs, hints, name)
    kind = schema.get("type")
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
        value = 1 if low <= 1 <= high else low  # 1: valid where 0 is refused ("not zero")
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    if kind == "string":
        low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 1000))
        pattern = re.compile(schema.get("pattern", ""))
        for text in ("Ghi chú thử tải", "py-0123456789", "#000000", "x" * max(1, low), "1"):
            if low <= len(text) <= high and pattern.search(text):
                return text
        return "x" * max(1, low)
    if kind == "array":
        count = max(int(schema.get("minItems", 0)), 2 if name in ("points", "path") else 0)
        return [example_value(schema.get("items", {}), defs, hints) for _ in range(count)]
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        return {k: example_value(v, defs, hints, k)
                for k, v in schema.get("properties", {}).items() if k in required or k in hints}
    return None


def annotation_command(protocol: Protocol) -> str | None:
    """The protocol's command that saves an annotation, if it has one."""
    for name in sorted(protocol.commands):
        if name.startswith(("annotation.", "annotations.", "ink.")) and name.rsplit(".", 1)[-1] in (
            "save", "create", "add", "upsert", "put",
        ):
            return name
    return None


def page_template(protocol: Protocol, setting: str | None, size: str) -> str | None:
    if not setting or setting == "off":
        return None
    if setting != "auto":
        return setting
    endpoint = protocol.endpoint("GET", PAGE_PATH)
    if endpoint is None:
        return None
    return re.sub(r":int\}", "}", endpoint.path).replace("{size}", size)


class Tablet:
    """One simulated device."""

    def __init__(self, index: int, token: str, cfg: Config, stats: Stats,
                 http: httpx.AsyncClient, pages: str | None, annotate: str | None) -> None:
        self.index = index
        self.cfg = cfg
        self.stats = stats
        self.pages = pages
        self.annotate_command = annotate
        self.client = Client(cfg.url, token=token, http=http, ack_timeout=cfg.ack_timeout,
                             retry_for=120.0, backoff=(0.25, 5.0), keep_snapshot=False)
        self.voter = index < len(cfg.tokens)  # an account's other devices do not vote again
        self.last_seq: int | None = None
        self.role: str | None = None
        self.running = False
        self.dropped_at: float | None = None
        self.etags: dict[str, str] = {}
        self.document: tuple[int, int] | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.rng = random.Random(cfg.seed * 100_003 + index)

    async def start(self) -> None:
        started = time.perf_counter()
        await self.client.join(self.cfg.meeting_id, on_event=self.on_event)
        self.stats.add("connect+join", time.perf_counter() - started)
        if self.cfg.check_in and self.voter and self.role in ("chair", "delegate") and \
                "attendance.check_in" in self.client.protocol.commands:
            await self.command("attendance.check_in", {})

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def on_event(self, event: Event) -> None:
        stats = self.stats
        if event.type == SNAPSHOT:
            self.last_seq = event.seq
            self.role = ((event.payload or {}).get("meeting") or {}).get("you", {}).get("role")
            presenting = (event.payload or {}).get("presenting") or {}
            self._follow(presenting)
            return
        if event.type == CONNECTION:
            state = event.payload.get("state")
            if state == "restored" and self.dropped_at is not None:
                stats.add("reconnect", time.perf_counter() - self.dropped_at)
                self.dropped_at = None
            stats.count(f"connection.{state}")
            return
        if event.synthetic:
            return
        stats.count("events")
        if event.seq is not None:
            if self.last_seq is not None and event.seq != self.last_seq + 1:
                stats.count("order_violations")
            self.last_seq = event.seq
        latency = event.latency
        if latency is not None:
            kind = "replayed" if event.replayed else "event"
            stats.add(f"{kind}:{event.type}", latency)
        if not self.running:
            return
        if event.type == "present.changed":
            self._follow(event.payload)
        elif event.type == "poll.opened" and self.voter and self.role != "observer":
            poll = event.payload.get("poll") or {}
            self.spawn(self.vote(poll))

    def _follow(self, presenting: dict[str, Any]) -> None:
        document, page = presenting.get("document_id"), presenting.get("page")
        if document is None or page is None:
            return
        self.document = (int(document), int(presenting.get("page_count") or 1))
        if self.pages and self.running:
            self.spawn(self.fetch(int(document), int(page)))

    async def fetch(self, document: int, page: int) -> None:
        assert self.pages is not None
        path = self.pages.format(document_id=document, page=page + 1, size=self.cfg.page_size)
        headers = {"If-None-Match": self.etags[path]} if path in self.etags else {}
        started = time.perf_counter()
        try:
            response = await self.client.request("GET", path, headers=headers)
        except EcabinetError as exc:
            self.stats.count(f"error:page:{exc.code}")
            return
        self.stats.add(f"page:{self.cfg.page_size}", time.perf_counter() - started)
        self.stats.count(f"page.{response.status_code}")
        if "etag" in response.headers:
            self.etags[path] = response.headers["etag"]

    async def vote(self, poll: dict[str, Any]) -> None:
        await asyncio.sleep(self.rng.uniform(0, self.cfg.vote_delay))
        options = [str(o.get("id")) for o in poll.get("options") or []] or ["yes", "no", "abstain"]
        choice = [self.rng.choice(options)]
        await self.command("poll.cast", {"poll_id": poll.get("id"), "choice": choice})

    async def command(self, name: str, fields: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            await self.client.call(name, {"meeting_id": self.cfg.meeting_id, **fields})
        except EcabinetError as exc:
            self.stats.count(f"error:{name}:{exc.code}")
            return
        self.stats.add(f"ack:{name}", time.perf_counter() - started)

    async def annotate(self) -> None:
        name = self.annotate_command
        if name is None:
            return
        info = self.client.protocol.command(name)
        document, count = self.document or (1, 1)
        x, y = self.rng.uniform(50, 500), self.rng.uniform(50, 700)
        stroke = [[round(x + 4 * i, 1), round(y + 10 * math.sin(i / 3), 1)] for i in range(24)]
        hints = {"meeting_id": self.cfg.meeting_id, "document_id": document,
                 "page": self.rng.randrange(count), "visibility": "private",
                 "data": {"kind": "ink", "strokes": [stroke]}}
        schema = info.schema
        fields = example_value(schema, schema.get("$defs", {}), hints)
        fields.pop("client_id", None)
        await self.command(name, fields)

    async def behave(self) -> None:
        """Random annotations and connection drops, as Poisson processes."""
        rate = (self.cfg.annotate_rate + self.cfg.drop_rate) / 60.0
        if rate <= 0:
            return
        while self.running:
            await asyncio.sleep(self.rng.expovariate(rate))
            if self.stopped():  # changed while sleeping
                return
            if self.rng.random() * (self.cfg.annotate_rate + self.cfg.drop_rate) < \
                    self.cfg.drop_rate:
                await self.drop()
            else:
                await self.annotate()

    async def drop(self) -> None:
        """Lose the network for a while; the client reconnects and resyncs after the outage."""
        if self.dropped_at is not None or not self.client.connected:
            return
        self.stats.count("drops")
        outage = self.rng.uniform(*self.cfg.drop_for)
        # Measured from the moment the network is back: reconnecting plus resync.
        self.dropped_at = time.perf_counter() + outage
        self.client.drop(outage)

    def stopped(self) -> bool:
        return not self.running

    async def close(self) -> None:
        self.running = False
        for task in list(self.tasks):
            task.cancel()
        await self.client.close()


async def gather_limited(limit: int, coros: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros), return_exceptions=True)


def documents_of(snapshot: dict[str, Any]) -> list[tuple[int, int]]:
    """(document id, page count) of the meeting's rendered documents, from a snapshot."""
    found: dict[int, int] = {}
    candidates = list(snapshot.get("documents") or [])
    for docs in (snapshot.get("agenda_documents") or {}).values():
        candidates += docs
    for doc in candidates:
        if isinstance(doc, dict) and doc.get("page_count") and doc.get("status", "ready") in (
            "ready", "failed"
        ):
            found[int(doc["id"])] = int(doc["page_count"])
    return sorted(found.items())


class Driver:
    """The chair: moves through the agenda, turns pages, opens and closes polls."""

    def __init__(self, cfg: Config, stats: Stats) -> None:
        assert cfg.chair_token is not None
        self.cfg = cfg
        self.stats = stats
        self.client = Client(cfg.url, token=cfg.chair_token, ack_timeout=cfg.ack_timeout)
        self.actions: list[str] = []
        self.documents: list[tuple[int, int]] = []
        self.page = 0
        self.polls = 0
        self.strokes = 0
        self.presented: tuple[int, int] | None = None

    async def prepare(self) -> None:
        room = await self.client.join(self.cfg.meeting_id, on_event=lambda _e: None)
        snapshot = room.snapshot
        if (snapshot.get("meeting") or {}).get("status") != "in_session":
            await self.send("meeting.start", {})
        self.documents = documents_of(snapshot)
        commands = self.client.protocol.commands
        self.actions = ["agenda"]
        if self.documents and "present.page" in commands:
            self.actions += ["page", "page"]
            if "ink.draw" in commands:
                self.actions.append("ink")
        if self.cfg.polls and {"poll.create", "poll.open", "poll.close"} <= set(commands):
            self.actions.append("poll")

    @property
    def head(self) -> int | None:
        room = self.client._rooms.get(self.cfg.meeting_id)
        return room.seq if room else None

    async def send(self, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            answer = await self.client.call(name, {"meeting_id": self.cfg.meeting_id, **fields})
        except EcabinetError as exc:
            self.stats.count(f"error:driver:{name}:{exc.code}")
            raise
        self.stats.add(f"driver:{name}", time.perf_counter() - started)
        return answer

    async def run(self, until: float) -> None:
        turn = 0
        while time.monotonic() < until:
            action = self.actions[turn % len(self.actions)]
            turn += 1
            with contextlib.suppress(EcabinetError):
                await getattr(self, f"do_{action}")()
            await asyncio.sleep(max(0.0, min(self.cfg.step, until - time.monotonic())))

    async def do_agenda(self) -> None:
        try:
            await self.send("agenda.next", {})
        except Conflict as exc:
            if exc.code != "agenda_end":
                raise
            room = self.client._rooms[self.cfg.meeting_id]
            items = (room.snapshot.get("agenda") or {}).get("items") or []
            if items:
                await self.send("agenda.goto", {"item_id": items[0]["id"]})

    async def do_page(self) -> None:
        document, count = self.documents[self.page // 1000 % len(self.documents)]
        self.page += 1
        await self.send("present.page", {"document_id": document, "page": self.page % count})
        self.presented = (document, self.page % count)

    async def do_ink(self) -> None:
        """Stream a stroke on the presented page: 6 batches of 10 points, 30 ms apart."""
        if self.presented is None:
            await self.do_page()
        assert self.presented is not None
        document, page = self.presented
        self.strokes += 1
        for n in range(6):
            points = [[100.0 + 10 * (10 * n + i), 200.0 + 40 * math.sin((10 * n + i) / 8)]
                      for i in range(10)]
            await self.client.emit("ink.draw", {
                "meeting_id": self.cfg.meeting_id, "stroke": f"lg-{self.strokes}", "n": n,
                "document_id": document, "page": page, "points": points, "done": n == 5})
            self.stats.count("driver:ink.batches")
            await asyncio.sleep(0.03)

    async def do_poll(self) -> None:
        self.polls += 1
        created = await self.send("poll.create", {
            "question": f"Biểu quyết thử tải số {self.polls}", "kind": "yes_no_abstain"})
        poll_id = created.get("poll_id") or (created.get("poll") or {}).get("id")
        await self.send("poll.open", {"poll_id": poll_id})
        await asyncio.sleep(self.cfg.poll_window)
        await self.send("poll.close", {"poll_id": poll_id})

    async def close(self) -> None:
        await self.client.close()
