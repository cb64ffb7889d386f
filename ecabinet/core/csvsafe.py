"""CSV for spreadsheets: text that Excel or LibreOffice would run as a formula is written inert.

A name, a title or an option label typed by someone (``=HYPERLINK("http://…")``, ``@SUM(1)``,
``+1``, ``-2+3``) becomes a formula when the sheet is opened: it can send the sheet's contents
to a web address or, with old DDE settings, start a program (CSV or formula injection). OWASP's
advice is followed: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return — also after leading white space, which spreadsheets skip — gets a leading apostrophe,
which makes the spreadsheet take it as text. Numbers (counts, weights) are written as they are
and stay numbers. Every CSV export goes through ``writer`` here.

Written here rather than taken from defusedcsv (3.0, the maintained library for this), after
reading its source: it escapes a leading ``@ + - = | %`` but not a leading tab or carriage
return (both on OWASP's list), nor a formula after leading spaces, and it puts a backslash
before every ``|`` of an escaped cell, which changes the text of a name. The rule is 3 lines.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Protocol

FORMULA_STARTS = frozenset("=+-@")
CONTROL_STARTS = frozenset("\t\r")


class TextSink(Protocol):
    def write(self, text: str, /) -> object: ...


def neutral(value: object) -> object:
    """The cell as it is written: text a spreadsheet would evaluate gets a leading ``'``;
    anything that is not text (an int, a Decimal, None) is left to the csv module as is."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in CONTROL_STARTS or value.lstrip()[:1] in FORMULA_STARTS:
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose every cell goes through ``neutral``."""

    def __init__(self, out: TextSink, *, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutral(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: TextSink, *, lineterminator: str = "\r\n") -> SafeWriter:
    """A CSV writer for a sheet people open in a spreadsheet (see the module's note)."""
    return SafeWriter(out, lineterminator=lineterminator)
