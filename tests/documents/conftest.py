"""Fixtures for the document tests: an app with a one-process render pool, a signed-in caller
that uploads and reads, and a picture of everything an upload may change."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.testclient import TestClient

from ecabinet.core.settings import Settings
from ecabinet.storage.models import AgendaItemDocument, Blob, Document, Meeting
from tests.conftest import CI, make_settings, sign_in
from tests.waiting import wait_until


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings a test module or test changes (parametrise ``overrides`` to change them)."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None, overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {"render_workers": 1, **overrides}
    return make_settings(tmp_path / "data", database_url=database_url, **values)


class Api:
    """One signed-in person talking to the HTTP API."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.client = client
        self.username = username
        self.headers = {"Authorization": f"Bearer {sign_in(client, username)}"}

    def upload(self, meeting_id: int, data: bytes, filename: str = "tai-lieu.pdf",
               **fields: Any) -> httpx.Response:
        return self.client.post(
            f"/api/meetings/{meeting_id}/documents",
            files={"file": (filename, data, "application/octet-stream")},
            data={k: str(v).lower() if isinstance(v, bool) else str(v)
                  for k, v in fields.items()},
            headers=self.headers,
        )

    def get(self, url: str, **headers: str) -> httpx.Response:
        return self.client.get(url, headers={**self.headers, **headers})

    def uploaded(self, meeting_id: int, data: bytes, **fields: Any) -> dict[str, Any]:
        response = self.upload(meeting_id, data, **fields)
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()["document"]
        return document

    def rendered(self, document_id: int, timeout: float = 30) -> dict[str, Any]:
        """The document's status once rendering has finished (ready or failed)."""

        def finished() -> dict[str, Any] | None:
            status: dict[str, Any] = self.get(f"/api/documents/{document_id}").json()
            return status if status["status"] in ("ready", "failed") else None

        return wait_until(finished, f"document {document_id} finishes rendering",
                          timeout=timeout, interval=0.05)


@pytest.fixture
def as_user(client: TestClient, room: dict[str, Any]) -> Callable[[str], Api]:
    """``as_user("thuky")``: the room's secretary (or anyone else of the room) over HTTP."""
    return lambda username: Api(client, username)


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def picture(app: Any) -> dict[str, Any]:
    """Everything an upload could change: rows, the meeting's log, stored and temporary files."""

    def rows(session: Any) -> dict[str, Any]:
        def count(model: Any) -> int:
            return int(session.exec(select(func.count()).select_from(model)).one())

        seqs = [m.last_seq for m in session.exec(select(Meeting).order_by(Meeting.id))]
        versions = [m.pack_version for m in session.exec(select(Meeting).order_by(Meeting.id))]
        return {"documents": count(Document), "blobs": count(Blob),
                "links": count(AgendaItemDocument), "seqs": seqs, "pack_versions": versions}

    data_dir: Path = app.runtime.settings.data_dir
    return {
        **app.runtime.db.run_sync(rows),
        "blob_files": files_under(data_dir / "blobs"),
        "tmp_files": files_under(data_dir / "tmp"),
    }


def require_soffice() -> str:
    """LibreOffice's ``soffice``: skipped locally when missing, a failure under CI=true (CI
    installs it, so the conversion is always tested there)."""
    found = shutil.which("soffice")
    if found:
        return found
    message = "LibreOffice (soffice) is not installed"
    if CI:
        pytest.fail(f"{message}; CI must run the conversion tests, not skip them")
    pytest.skip(message)


def fake_program(folder: Path, body: str) -> str:
    """An executable shell script standing in for ``soffice``."""
    path = folder / "fake-soffice"
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False
