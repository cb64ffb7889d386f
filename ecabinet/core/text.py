"""Unicode text as ecabinet stores and compares it: NFC, the one normalisation everywhere.

Vietnamese letters reach the server in either form: precomposed (``ụ`` one code point, what most
keyboards send) or decomposed (``u`` + a combining dot below, what macOS file names and some PDFs
carry). Two spellings of one name would be two names, fonts and PDF text search expect NFC, so
every text a person types, a file names or a catalog holds is normalised here, once, by these two
functions (for pydantic fields, ``core.validation.NfcText`` and ``TrimmedText`` call them).
Standard library only: the domain and the PDF workers import it.
"""

from __future__ import annotations

import unicodedata


def nfc(text: str) -> str:
    """``text`` in Unicode NFC (canonical composition), the form stored and compared."""
    return unicodedata.normalize("NFC", text)


def nfc_trimmed(text: str) -> str:
    """``text`` in NFC without white space around it: how a typed name or title is stored."""
    return nfc(text.strip())

