"""The disk fills during an upload: a clear error, no partial file left, other meetings unaffected.

Two real ways to run out of room, each a variant of the test:

- ``tmpfs``: the data folder is a small tmpfs mounted for the test (root may mount here and in
  CI, the same machine), filled up with a filler file: writes fail with ENOSPC, at whichever
  stage the space runs out (receiving the upload, or storing its sanitised copy). Skipped, with
  the reason, where mounting is not permitted.
- ``rlimit``: the server process runs with a file size limit (RLIMIT_FSIZE; Python ignores
  SIGXFSZ, so the write fails with EFBIG) and gets a file larger than that: this one runs
  anywhere.

The database is PostgreSQL, elsewhere, as in a deployment where the data disk fills and the
database does not.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import resource
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pymupdf
import pytest
from PIL import Image

from ecabinet.services import packs
from tests.conftest import create_room
from tests.documents import samples
from tests.faults.conftest import prepare, sha256, sign_in
from tests.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]
MiB = 1024 * 1024
DISK = 24 * MiB  # the tmpfs
FILE_LIMIT = 2 * MiB  # RLIMIT_FSIZE, when mounting is not permitted
OTHER_PACK = """
meeting:
  title: Phiên họp thường kỳ khác
participants:
  - {user: chutich, role: chair}
  - {user: thuky, role: secretary}
  - {user: daibieu1, role: delegate}
agenda:
  - title: Báo cáo
"""


def big_pdf(megabytes: float, seed: int) -> bytes:
    """A PDF of incompressible photos: about ``megabytes`` MiB, whatever the compression."""
    rng = random.Random(seed)
    doc = pymupdf.open()
    pages = max(1, round(megabytes / 0.5))
    for _ in range(pages):
        image = Image.frombytes("RGB", (800, 600), rng.randbytes(800 * 600 * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        page = doc.new_page(width=595, height=842)
        page.insert_image(pymupdf.Rect(40, 40, 555, 420), stream=out.getvalue())
    data: bytes = doc.tobytes()
    doc.close()
    return data


@contextlib.contextmanager
def small_disk(folder: Path, method: str) -> Iterator[None]:
    """With "tmpfs", mount a tmpfs of ``DISK`` bytes at ``folder`` (skip where not permitted)."""
    folder.mkdir(parents=True)
    if method != "tmpfs":
        yield
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0755",
                              "ecabinet-fault-disk", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({mounted.stderr.strip()}); "
                    "the rlimit variant covers the fault")
    try:
        yield
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path, leave: int) -> Path:
    """Write a filler file until only ``leave`` bytes stay free on ``folder``'s file system."""
    filler = folder / "filler.bin"
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with filler.open("ab") as out:
        out.write(b"\0" * max(0, free - leave))
    return filler


def leftovers(data_dir: Path) -> list[str]:
    tmp = data_dir / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def two_meetings(session: Any) -> dict[str, Any]:
    info = create_room(session)
    other = packs.import_pack(session, packs.parse_pack(OTHER_PACK))
    other.status = "published"
    session.add(other)
    session.flush()
    return {**info, "other_id": other.id}


def limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


@pytest.mark.parametrize("method", ["tmpfs", "rlimit"])
def test_a_full_disk_fails_the_upload_clearly_and_leaves_nothing(
    servers: Callable[..., Any], pg_url: str, tmp_path: Path, method: str
) -> None:
    data_dir = tmp_path / "data"
    with small_disk(data_dir, method):
        info = prepare(data_dir, pg_url, build=two_meetings)
        mid, other = info["meeting_id"], info["other_id"]
        server = servers("ecabinet", {"ECABINET_DATA_DIR": str(data_dir),
                                      "ECABINET_DATABASE_URL": pg_url},
                         preexec=limit_files if method == "rlimit" else None, start=False)
        server.start()
        try:
            headers = {"authorization": f"Bearer {sign_in(server.url, 'thuky')}"}
            with httpx.Client(base_url=server.url, timeout=120, headers=headers) as http:
                # The other meeting has a document, rendered, before the disk fills.
                kept = samples.pdf(2, marker="Khac")
                r = http.post(f"/api/meetings/{other}/documents",
                              files={"file": ("khac.pdf", kept, "application/pdf")})
                assert r.status_code == 201, r.text
                kept_doc = r.json()["document"]
                wait_until(lambda: http.get(f"/api/documents/{kept_doc['id']}").json()["status"]
                           == "ready", f"document {kept_doc['id']} is rendered", timeout=60,
                           interval=0.1)
                blobs_before = sorted(p.name for p in (data_dir / "blobs").glob("??/*"))

                def refused_upload(data: bytes, stage: str) -> None:
                    r = http.post(f"/api/meetings/{mid}/documents",
                                  files={"file": (f"{stage}.pdf", data, "application/pdf")})
                    assert r.status_code == 507, (stage, r.status_code, r.text)
                    error = r.json()["error"]
                    assert error["code"] == "storage_full", (stage, error)
                    assert "dung lượng" in error["message"]
                    assert leftovers(data_dir) == [], (stage, leftovers(data_dir))
                    now = sorted(p.name for p in (data_dir / "blobs").glob("??/*"))
                    assert now == blobs_before, stage
                    listed = http.get(f"/api/meetings/{mid}/documents").json()["documents"]
                    assert listed == [], stage

                # 1. The disk fills while the upload streams in.
                upload = big_pdf(3, seed=1)
                filler = fill(data_dir, leave=1 * MiB) if method == "tmpfs" else None
                refused_upload(upload, "receiving")
                if filler is not None:
                    # 2. The upload fits, the sanitised copy of it does not.
                    filler.unlink()
                    fill(data_dir, leave=len(upload) + len(upload) // 2)
                    refused_upload(big_pdf(3, seed=2), "storing")

                # Other meetings are unaffected: reading, page images, changes.
                file = http.get(f"/api/documents/{kept_doc['id']}/file")
                assert file.status_code == 200 and sha256(file.content) == kept_doc["sha256"]
                page = http.get(f"/api/documents/{kept_doc['id']}/pages/1/tablet")
                assert page.status_code == 200, page.text
                changed = http.patch(f"/api/meetings/{other}", json={"place": "Phòng họp B"})
                assert changed.status_code == 200, changed.text
                assert http.get("/healthz").status_code == 200

                # Space again: the same upload goes through.
                if filler is not None:
                    (data_dir / "filler.bin").unlink()
                    again = upload
                else:
                    again = big_pdf(1, seed=3)  # under the file size limit
                r = http.post(f"/api/meetings/{mid}/documents",
                              files={"file": ("lai.pdf", again, "application/pdf")})
                assert r.status_code == 201, r.text
        finally:
            server.stop()
