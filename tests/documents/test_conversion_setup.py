"""What a server without LibreOffice (or with one that does not run) tells before anyone
uploads an Office file: readiness names conversion as unavailable without failing, and the
secretary's upload form says that only PDF files are accepted. The start-up warning itself is
checked on the real command in tests/test_cli.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from ecabinet.core.settings import Settings
from ecabinet.services.documents import log_conversion_setup
from tests.browser.test_pages_http import browser_sign_in
from tests.documents.conftest import fake_program, require_soffice


@pytest.mark.parametrize("overrides", [{"soffice": "/nonexistent/soffice"}])
def test_without_libreoffice_readiness_names_conversion_unavailable(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200  # optional: PDF uploads still work, the server is ready
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "conversion": "unavailable: soffice_missing"},
    }


@pytest.mark.parametrize("overrides", [{"soffice": "/nonexistent/soffice"}])
def test_without_libreoffice_the_upload_form_offers_pdf_only(
    client: TestClient, room: dict[str, Any]
) -> None:
    browser_sign_in(client, "thuky")
    page = client.get(f"/manage/meetings/{room['meeting_id']}").text
    assert 'id="office-unavailable"' in page
    assert "Máy chủ này hiện chỉ nhận tệp PDF" in page and "LibreOffice" in page
    assert page.count('accept=".pdf,application/pdf"') == 2  # new documents and new versions
    assert ".docx" not in page


def test_with_libreoffice_the_upload_form_offers_office_files(
    client: TestClient, room: dict[str, Any]
) -> None:
    require_soffice()
    assert client.get("/readyz").json()["checks"]["conversion"] == "ok"
    browser_sign_in(client, "thuky")
    page = client.get(f"/manage/meetings/{room['meeting_id']}").text
    assert 'id="office-unavailable"' not in page
    assert page.count('accept=".pdf,.doc,.docx,.odt,.xls,.xlsx,.ods,.ppt,.pptx,.odp,') == 2


def test_a_libreoffice_that_does_not_run_is_found_at_start_up(
    tmp_path: Path, settings: Settings
) -> None:
    broken = fake_program(tmp_path, "echo 'error while loading shared libraries' >&2; exit 127")
    assert log_conversion_setup(settings.model_copy(update={"soffice": broken})) == (
        "soffice_broken"
    )
    # Unjailed conversion (development machines) is warned about, but Office files are taken.
    (tmp_path / "ok").mkdir()
    works = fake_program(tmp_path / "ok", "echo LibreOffice 7.4")
    unjailed = settings.model_copy(update={"soffice": works, "convert_unjailed": True})
    assert log_conversion_setup(unjailed) is None
