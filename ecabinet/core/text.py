"""Unicode text as ecabinet stores and compares it: NFC, the one normalisation everywhere.

Vietnamese letters reach the server in either form: precomposed (``ụ`` one code point, what most
keyboards send) or decomposed (``u`` + a combining dot below, what macOS file names and some PDFs
carry). Two spellings of one name would be two names, fonts and PDF text search expect NFC, so
every text a person types, a file names or a catalog holds is normalised here, once, by these two
functions (or the two annotated types, for pydantic models).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator


def nfc(text: str) -> str:
    """``text`` in Unicode NFC (canonical composition), the form stored and compared."""
    return unicodedata.normalize("NFC", text)


def nfc_trimmed(text: str) -> str:
    """``text`` in NFC without white space around it: how a typed name or title is stored."""
    return nfc(text.strip())


# For pydantic fields, e.g. ``title: TrimmedText = Field(min_length=1, max_length=300)``: the
# lengths are checked on the string as received, then it is normalised. (Wrapped in a further
# ``Annotated[..., Field(...)]`` pydantic would check the lengths after, with a vaguer message.)
NfcText = Annotated[str, AfterValidator(nfc)]
TrimmedText = Annotated[str, AfterValidator(nfc_trimmed)]
