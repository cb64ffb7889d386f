"""SIGKILL of the server while documents are being uploaded.

Several uploads run at once, one of them streaming slowly so that the kill lands in the middle of
its body; the server is killed once a few uploads have been acked. After a restart on the same
data folder: every acked document is there with exactly the bytes it was acked with, no document
(acked or not) is served half-written, every stored file has the content its name says, the
interrupted work resumes (rendering finishes) and uploads work again. What the cut uploads left
in ``tmp/`` is swept at a start once it is a day old (younger files may belong to another server
process sharing the folder, still writing them).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pymupdf
import pytest

from tests.documents import samples
from tests.faults.conftest import Server, prepare, sha256, sign_in
from tests.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]
BOUNDARY = "ecabinet-fault-boundary"


def multipart(data: bytes, filename: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/pdf\r\n\r\n").encode() + \
        data + f"\r\n--{BOUNDARY}--\r\n".encode()


class Uploads:
    """Uploader threads; ``acked`` holds what the server answered 201 to."""

    def __init__(self, server: Server, token: str, meeting_id: int) -> None:
        self.url = f"{server.url}/api/meetings/{meeting_id}/documents"
        self.headers = {"authorization": f"Bearer {token}"}
        self.acked: list[dict[str, Any]] = []
        self.problems: list[str] = []  # answers other than 201 or a cut connection
        self.slow_started = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.quick, args=(n,)) for n in range(3)]
        self.threads.append(threading.Thread(target=self.slow))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def quick(self, number: int) -> None:
        """Distinct small documents, one after another, until the server is gone."""
        with httpx.Client(timeout=60, headers=self.headers) as http:
            for n in range(1000):
                if self.stop.is_set():
                    return
                data = samples.pdf(2, marker=f"Q{number}x{n}y", toc=False)
                try:
                    r = http.post(self.url, files={"file": (f"q{number}-{n}.pdf", data,
                                                            "application/pdf")})
                except httpx.TransportError:
                    return
                with self.lock:
                    if r.status_code == 201:
                        self.acked.append(r.json()["document"])
                    else:
                        self.problems.append(f"{r.status_code}: {r.text[:200]}")

    def slow(self) -> None:
        """One large upload trickling in: the kill lands in the middle of its body."""
        body = multipart(samples.pdf(30, marker="Slow"), "cham.pdf")

        def trickle() -> Iterator[bytes]:
            for start in range(0, len(body), 16 * 1024):
                yield body[start:start + 16 * 1024]
                self.slow_started.set()
                time.sleep(0.05)  # a slow client: its body is still coming when the kill lands

        headers = {**self.headers, "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                   "content-length": str(len(body))}
        with httpx.Client(timeout=120) as http:
            try:
                r = http.post(self.url, content=trickle(), headers=headers)
            except httpx.TransportError:
                return
        self.problems.append(f"the slow upload was not interrupted: {r.status_code}")


def stored_blobs(data_dir: Path) -> Iterator[tuple[str, Path]]:
    for path in (data_dir / "blobs").glob("??/*"):
        if path.is_file() and re.fullmatch(r"[0-9a-f]{62}", path.name):
            yield path.parent.name + path.name, path


def test_nothing_acked_is_lost_and_nothing_half_written_is_served(
    servers: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    info = prepare(data_dir)
    mid = info["meeting_id"]
    server = servers("ecabinet", {"ECABINET_DATA_DIR": str(data_dir)})
    uploads = Uploads(server, sign_in(server.url, "thuky"), mid)
    uploads.start()
    try:
        wait_until(lambda: len(uploads.acked) >= 4 and uploads.slow_started.is_set(),
                   lambda: f"4 uploads acked ({len(uploads.acked)}) and the slow one streaming "
                   f"({uploads.slow_started.is_set()})", timeout=90)
        server.kill()
    finally:
        uploads.join()
    acked = list(uploads.acked)
    assert len(acked) >= 4 and not uploads.problems, uploads.problems

    server.start()  # the same data folder, a fresh process
    headers = {"authorization": f"Bearer {sign_in(server.url, 'thuky')}"}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as http:
        assert http.get("/readyz").status_code == 200
        listed = http.get(f"/api/meetings/{mid}/documents").json()["documents"]
        by_id = {d["id"]: d for d in listed}
        # Every acked upload is there, with the very bytes it was acked with.
        for doc in acked:
            assert doc["id"] in by_id, f"acked document {doc['id']} is gone"
            assert by_id[doc["id"]]["sha256"] == doc["sha256"]
        # Every document served (acked, or committed just before the kill) is whole.
        for doc in listed:
            r = http.get(f"/api/documents/{doc['id']}/file")
            assert r.status_code == 200, r.text
            assert sha256(r.content) == doc["sha256"], f"document {doc['id']} is damaged"
            with pymupdf.open(stream=r.content, filetype="pdf") as pdf:
                assert pdf.page_count == doc["page_count"]
        # The rendering the kill interrupted resumes by itself.
        for doc in listed:

            def rendered(doc_id: int = doc["id"]) -> bool:
                status = http.get(f"/api/documents/{doc_id}").json()
                assert status["status"] != "failed", status
                return status["status"] == "ready"

            wait_until(rendered, f"document {doc['id']} is rendered", timeout=90, interval=0.1)
            page = http.get(f"/api/documents/{doc['id']}/pages/1/thumb")
            assert page.status_code == 200 and page.content[:2] == b"\xff\xd8"
        # And the server takes uploads again.
        again = http.post(f"/api/meetings/{mid}/documents",
                          files={"file": ("sau.pdf", samples.pdf(1, marker="After"),
                                          "application/pdf")})
        assert again.status_code == 201, again.text
    # On disk, no file is stored under a name its content does not have.
    blobs = dict(stored_blobs(data_dir))
    assert {d["sha256"] for d in listed} <= set(blobs)
    for name, path in blobs.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == name, f"damaged blob {path}"
    print(f"acked {len(acked)}, listed after the restart {len(listed)}, blobs {len(blobs)}")
    # What the killed uploads left in tmp/ is never served; the start-up sweep removes it once
    # it is old enough not to belong to another process still writing it (a day).
    server.stop()
    leftovers = list((data_dir / "tmp").iterdir())
    assert leftovers, "the kill should have cut uploads short"
    old = time.time() - 2 * 86400
    for entry in leftovers:
        os.utime(entry, (old, old))
    server.start()
    wait_until(lambda: not any(entry.exists() for entry in leftovers),
               lambda: f"the start-up sweep removes {[e.name for e in leftovers if e.exists()]}",
               timeout=30)
