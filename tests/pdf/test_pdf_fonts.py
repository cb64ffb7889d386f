"""Font lookup: a Vietnamese-capable font on any machine, and the fall-back order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from ecabinet.pdf import fonts
from ecabinet.pdf.errors import PdfError


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    fonts.find_font.cache_clear()
    yield
    fonts.find_font.cache_clear()


@pytest.mark.parametrize("bold", [False, True])
def test_the_font_has_every_vietnamese_letter(bold: bool) -> None:
    found = fonts.find_font(bold)
    font = pymupdf.Font(fontbuffer=found.data)
    missing = [c for c in fonts.VIETNAMESE_LETTERS if not font.has_glyph(ord(c))]
    assert missing == []


def test_pymupdf_fonts_is_the_first_choice() -> None:
    pytest.importorskip("pymupdf_fonts")
    assert fonts.find_font().origin.startswith("pymupdf_fonts.")


def test_falls_back_to_system_fonts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ttf = tmp_path / "Fallback.ttf"
    ttf.write_bytes(fonts.find_font().data)
    fonts.find_font.cache_clear()
    monkeypatch.setitem(fonts._PYPI_MODULES, False, "no_such_module_for_ecabinet")
    monkeypatch.setitem(fonts._SYSTEM_PATHS, False, ("/nonexistent/font.ttf", str(ttf)))
    found = fonts.find_font()
    assert found.origin == str(ttf) and found.name == "Fallback"


def test_no_font_at_all_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(fonts._PYPI_MODULES, False, "no_such_module_for_ecabinet")
    monkeypatch.setitem(fonts._SYSTEM_PATHS, False, ("/nonexistent/font.ttf",))
    with pytest.raises(PdfError) as caught:
        fonts.find_font()
    assert caught.value.code == "font_missing"
