"""The content-addressed store: named by content, written atomically, safe paths only."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ecabinet.pdf.render import TABLET
from ecabinet.rendering.cache import RenditionCache
from ecabinet.storage.blobs import BlobStore, check_digest


def test_files_are_stored_once_under_their_hash(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    source = tmp_path / "upload.pdf"
    source.write_bytes(b"%PDF-1.7 content")
    digest = hashlib.sha256(b"%PDF-1.7 content").hexdigest()
    assert store.put_file(source) == (digest, 16)
    assert store.path(digest) == tmp_path / "blobs" / digest[:2] / digest[2:]
    assert store.path(digest).read_bytes() == b"%PDF-1.7 content"
    assert source.exists()  # copied, not moved
    again = tmp_path / "again.pdf"
    again.write_bytes(b"%PDF-1.7 content")
    assert store.put_file(again, move=True) == (digest, 16)
    assert not again.exists()
    assert store.put_bytes(b"%PDF-1.7 content") == digest
    leftovers = [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert leftovers == [digest[2:]]  # one file, no temporary ones


def test_moving_a_spooled_upload_renames_it_into_place(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    store.tmp_dir.mkdir(parents=True)
    spooled = store.tmp_dir / "upload-1.part"
    spooled.write_bytes(b"data")
    inode = spooled.stat().st_ino
    digest, _ = store.put_file(spooled, move=True)
    assert store.path(digest).stat().st_ino == inode and not spooled.exists()


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "ab", "A" * 64, "g" * 64, "0" * 63, "0" * 64 + "/x", ""]
)
def test_only_hex_digests_become_paths(tmp_path: Path, bad: str) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(ValueError):
        store.path(bad)
    with pytest.raises(ValueError):
        RenditionCache(store).rendition_path(bad, 0, TABLET)
    with pytest.raises(ValueError):
        check_digest(bad)


def test_renditions_are_keyed_by_hash_page_size_and_format(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = "ab" + "0" * 62
    path = RenditionCache(store).rendition_path(digest, 11, TABLET)
    assert path == tmp_path / "renditions" / "ab" / digest / "p00011-tablet.jpg"
    assert RenditionCache(store).text_path(digest, 11).name == "p00011-text.json"
    assert RenditionCache(store).pages_rendered(digest) == 0
    path.parent.mkdir(parents=True)
    RenditionCache(store).text_path(digest, 11).write_text("{}")
    assert RenditionCache(store).pages_rendered(digest) == 1


def test_what_an_upload_became_is_remembered_only_while_its_blob_exists(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    stored = store.put_bytes(b"clean pdf")
    source = hashlib.sha256(b"original upload").hexdigest()
    assert store.source_record(source) is None
    store.record_source(source, {"sha256": stored, "page_count": 1})
    assert store.source_record(source) == {"sha256": stored, "page_count": 1}
    store.path(stored).unlink()
    assert store.source_record(source) is None


def test_a_workspace_is_removed_with_everything_in_it(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with store.workspace() as work:
        (work / "nested").mkdir()
        (work / "nested" / "file").write_bytes(b"x")
    assert not work.exists() and list(store.tmp_dir.iterdir()) == []


def test_leftovers_of_interrupted_uploads_are_cleaned(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    store.tmp_dir.mkdir(parents=True)
    old, fresh = store.tmp_dir / "upload-old.part", store.tmp_dir / "upload-new.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    (store.tmp_dir / "work-old").mkdir()
    os.utime(old, (1, 1))
    os.utime(store.tmp_dir / "work-old", (1, 1))
    assert store.clean_tmp() == 2
    assert [p.name for p in store.tmp_dir.iterdir()] == ["upload-new.part"]
