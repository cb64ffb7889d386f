"""NFC, the one normalisation: core/text.py and its pydantic types in core/validation.py."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from ecabinet.core.text import nfc, nfc_trimmed
from ecabinet.core.validation import NfcText, TrimmedText

DECOMPOSED = "Mu\u0323c lu\u0323c"  # "Mục lục" as macOS file names and some PDFs carry it


def test_nfc_composes_vietnamese_letters() -> None:
    assert nfc("Mu\u0323c") == "Mục"
    assert len(nfc("Mu\u0323c")) == 3
    assert nfc(DECOMPOSED) == "Mục lục"
    assert nfc("  Mục ") == "  Mục "  # only the form changes


def test_trimmed_also_drops_surrounding_white_space() -> None:
    assert nfc_trimmed(f" \t{DECOMPOSED}\n") == "Mục lục"
    assert nfc_trimmed("   ") == ""


class Form(BaseModel):
    title: TrimmedText = Field(min_length=1, max_length=9)  # "Mục lục" decomposed: 9
    note: NfcText = ""


def test_the_types_normalise_after_the_lengths_are_checked() -> None:
    form = Form(title=DECOMPOSED, note="Ghi chu\u0301 ")
    assert (form.title, form.note) == ("Mục lục", "Ghi chú ")
    with pytest.raises(ValidationError) as caught:
        Form(title="Một tiêu đề dài")
    assert caught.value.errors()[0]["type"] == "string_too_long"
