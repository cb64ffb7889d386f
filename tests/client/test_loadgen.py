"""A small run of the load generator (N = 10, two processes) against a real server, so that it
does not rot: join, follow the presenter and fetch pages, vote, drop and resync, account."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pymupdf
import pytest
from ecabinet_client import Client
from ecabinet_client.loadgen import Config, Stats, documents_of, example_value, run, sign_in_all

from tests.conftest import PASSWORD, LiveServer


def three_pages() -> bytes:
    doc = pymupdf.open()
    for n in range(3):
        page = doc.new_page()
        page.insert_text((72, 72), f"Trang {n + 1}")
    data: bytes = doc.tobytes()
    doc.close()
    return data


async def attach_document(url: str, meeting_id: int) -> int:
    async with Client(url) as secretary:
        await secretary.sign_in("thuky", PASSWORD)
        room = await secretary.join(meeting_id, on_event=lambda _e: None)
        first = room.snapshot["agenda"]["items"][0]["id"]
        response = await secretary.request(
            "POST", f"/api/meetings/{meeting_id}/documents",
            files={"file": ("bao-cao.pdf", three_pages(), "application/pdf")},
            data={"title": "Báo cáo", "item_id": str(first)})
        document_id: int = response.json()["document"]["id"]
        async with asyncio.timeout(30):
            async for event in room:
                if event.type == "document.ready" and document_id in event.payload["document_ids"]:
                    return document_id
    raise AssertionError("the document never became ready")


@pytest.mark.slow
def test_loadgen_smoke_with_ten_tablets(live_server: LiveServer, room: dict[str, Any]) -> None:
    mid = room["meeting_id"]
    document_id = asyncio.run(attach_document(live_server.url, mid))
    users = ["daibieu1", "daibieu2", "quansat", "thuky", "chutich"]
    tokens = asyncio.run(sign_in_all(live_server.url, [(u, PASSWORD) for u in users]))
    cfg = Config(
        url=live_server.url, meeting_id=mid, tablets=10, processes=2,
        tokens=[tokens[u] for u in users[:4]], chair_token=tokens["chutich"],
        duration=4.0, step=0.3, poll_window=1.0, vote_delay=0.3,
        drop_rate=30.0, drop_for=(0.1, 0.3), annotate_rate=10.0, settle=2.0, check_in=True,
    )
    report = run(cfg)
    json.dumps(report)  # the last line the command prints
    assert report["joined"] == 10 and report["join_failed"] == 0
    assert report["behind"] == 0 and report["head_seq"] > 1
    counts, latency = report["counts"], report["latency"]
    assert counts.get("order_violations", 0) == 0
    assert report["events_received"] > 10
    assert latency["event:agenda.current"]["n"] >= 10
    assert latency["event:present.changed"]["p50_ms"] < 1000
    assert latency["page:tablet"]["n"] >= 10, counts  # the presenter's pages were fetched
    assert counts.get("page.200", 0) >= 1
    assert latency["ack:poll.cast"]["n"] >= 1, counts  # tablets voted when polls opened
    assert latency["driver:poll.open"]["n"] >= 1
    assert counts["drops"] >= 1 and latency["reconnect"]["n"] >= 1
    assert counts["driver:ink.batches"] >= 6 and latency["event:ink.stroke"]["n"] >= 6
    assert counts.get("connection.restored", 0) == counts["reconnects"]
    assert document_id in {d for d, _n in documents_of({"documents": [
        {"id": document_id, "page_count": 3, "status": "ready"}]})}


def test_stats_and_example_payloads() -> None:
    stats = Stats()
    for ms in range(1, 101):
        stats.add("event:x", ms / 1000)
    row = stats.summary()["event:x"]
    assert (row["n"], row["p50_ms"], row["p99_ms"], row["max_ms"]) == (100, 50.0, 99.0, 100.0)
    schema = {"type": "object", "required": ["page", "points", "kind"], "properties": {
        "page": {"type": "integer", "minimum": 0}, "kind": {"enum": ["pen", "marker"]},
        "points": {"type": "array", "items": {"type": "number"}, "minItems": 2},
        "note": {"type": "string"}}}
    assert example_value(schema, {}, {"page": 2}) == {"page": 2, "points": [1.0, 1.0],
                                                      "kind": "pen"}


async def _stream(url: str, meeting_id: int, document_id: int) -> list[Any]:
    async with Client(url) as chair, Client(url) as delegate:
        await chair.sign_in("chutich", PASSWORD)
        await delegate.sign_in("daibieu1", PASSWORD)
        room = await chair.join(meeting_id, on_event=lambda _e: None)
        await room.commands.meeting.start()
        await room.commands.present.page(document_id=document_id, page=1)
        watching = await delegate.join(meeting_id)
        for n in range(3):
            await room.emit("ink.draw", stroke="s-1", n=n, document_id=document_id, page=1,
                            points=[[10.0 * n, 20.0], [10.0 * n + 5, 25.0]], done=n == 2)
        got = []
        async with asyncio.timeout(10):
            async for event in watching:
                if event.type == "ink.stroke":
                    got.append(event)
                    if event.payload["done"]:
                        return got
    return got


def test_streaming_commands_go_without_an_ack(live_server: LiveServer,
                                              room: dict[str, Any]) -> None:
    document_id = asyncio.run(attach_document(live_server.url, room["meeting_id"]))
    strokes = asyncio.run(_stream(live_server.url, room["meeting_id"], document_id))
    assert [e.payload["n"] for e in strokes] == [0, 1, 2]
    assert all(e.seq is None and e.latency is not None for e in strokes)
