"""A document in the state's layout (Decree 30/2020, Appendix I), as data.

Minutes (biên bản) and conclusion notices (thông báo kết luận) are built as a ``StateDocument``
by the record capability (drafted from the event log, edited by the secretary, approved by the
chair) and drawn by the renderers (PDF on the server, DOCX for offices that finish in Word). This
module is the contract between them: plain data with no I/O, stored as JSON (``to_dict`` /
``from_dict`` round-trip exactly), all text in NFC.

Body content is a list of blocks: headings, paragraphs made of runs (bold / italic), bulleted
items and tables. That is what a tablet-friendly rich-text editor produces and what the layout
knows how to set (justified, first-line indent, 13-14 pt).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["minutes", "conclusions"]
Align = Literal["justify", "left", "center", "right"]

#: What a document kind is called in its title block and in its number (``Số: 12/BB-UBND``).
TITLES: dict[str, str] = {"minutes": "BIÊN BẢN", "conclusions": "THÔNG BÁO"}
NUMBER_SIGNS: dict[str, str] = {"minutes": "BB", "conclusions": "TB"}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False
    italic: bool = False


@dataclass(frozen=True)
class Paragraph:
    runs: tuple[Run, ...]
    align: Align = "justify"
    indent: bool = True  # first-line indent (1-1.27 cm)

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


@dataclass(frozen=True)
class Heading:
    """A section heading inside the body (for example "1. Báo cáo tình hình kinh tế - xã hội")."""

    text: str
    level: int = 1  # 1 = item, 2 = sub-item


@dataclass(frozen=True)
class Bullet:
    """One line of a list ("- Đồng chí Nguyễn Văn An, Chủ tịch UBND tỉnh: ...")."""

    runs: tuple[Run, ...]

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


@dataclass(frozen=True)
class Table:
    """A table with ruled cells; the first row is the header when ``header`` is true."""

    rows: tuple[tuple[str, ...], ...]
    header: bool = True
    widths: tuple[float, ...] | None = None  # relative column widths; equal when None


Block = Heading | Paragraph | Bullet | Table


@dataclass(frozen=True)
class Signature:
    """A signature block: "THƯ KÝ" on the left, "CHỦ TỌA" on the right (minutes)."""

    title: str  # the block's caption, e.g. "THƯ KÝ", "CHỦ TỌA", "TM. ỦY BAN NHÂN DÂN"
    name: str  # the signer's full name, in bold under the space left for the signature
    position: str = ""  # e.g. "CHỦ TỊCH" under an organisation's "TM." caption; may be empty


@dataclass(frozen=True)
class StateDocument:
    kind: Kind
    governing_body: str  # cơ quan chủ quản, e.g. "ỦY BAN NHÂN DÂN TỈNH HÀ GIANG"; may be ""
    issuing_body: str  # cơ quan ban hành, e.g. "VĂN PHÒNG"
    number: str | None  # the full number line ("Số: 12/BB-UBND"); None while a draft
    number_code: str  # the body's short code used in the number (``UBND``)
    title: str  # trích yếu: the meeting's name or the subject, under the kind's title
    blocks: tuple[Block, ...]
    signatures: tuple[Signature, ...] = ()
    recipients: tuple[str, ...] = ()  # "Nơi nhận" lines, "- Lưu: VT, Hồ sơ." last
    place_date: str | None = None  # "Hà Giang, ngày 05 tháng 03 năm 2026" (notices, not minutes)

    @property
    def heading(self) -> str:
        return TITLES[self.kind]

    @property
    def number_line(self) -> str:
        """``Số: 12/BB-UBND``, or the placeholder ``Số:      /BB-UBND`` of a draft."""
        if self.number:
            return self.number
        return f"Số:      /{NUMBER_SIGNS[self.kind]}-{self.number_code}"

    def plain_text(self) -> str:
        """Everything the document says, in reading order (for tests and search)."""
        lines = [self.governing_body, self.issuing_body, self.number_line]
        if self.place_date:
            lines.append(self.place_date)
        lines += [self.heading, self.title]
        for block in self.blocks:
            if isinstance(block, Table):
                lines += [" ".join(row) for row in block.rows]
            else:
                lines.append(block.text)
        for sig in self.signatures:
            lines += [sig.title, sig.position, sig.name]
        lines += list(self.recipients)
        return "\n".join(line for line in lines if line)

    # -- JSON ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "governing_body": self.governing_body,
            "issuing_body": self.issuing_body,
            "number": self.number,
            "number_code": self.number_code,
            "title": self.title,
            "place_date": self.place_date,
            "blocks": [_block_to_dict(block) for block in self.blocks],
            "signatures": [
                {"title": s.title, "name": s.name, "position": s.position} for s in self.signatures
            ],
            "recipients": list(self.recipients),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateDocument:
        return cls(
            kind=data["kind"],
            governing_body=nfc(data.get("governing_body", "")),
            issuing_body=nfc(data["issuing_body"]),
            number=nfc(data["number"]) if data.get("number") else None,
            number_code=nfc(data["number_code"]),
            title=nfc(data["title"]),
            place_date=nfc(data["place_date"]) if data.get("place_date") else None,
            blocks=tuple(_block_from_dict(b) for b in data.get("blocks", [])),
            signatures=tuple(
                Signature(nfc(s["title"]), nfc(s["name"]), nfc(s.get("position", "")))
                for s in data.get("signatures", [])
            ),
            recipients=tuple(nfc(r) for r in data.get("recipients", [])),
        )


def _runs_to_list(runs: tuple[Run, ...]) -> list[dict[str, Any]]:
    return [{"text": r.text, "bold": r.bold, "italic": r.italic} for r in runs]


def _runs_from_list(items: list[dict[str, Any]]) -> tuple[Run, ...]:
    return tuple(
        Run(nfc(i["text"]), bool(i.get("bold", False)), bool(i.get("italic", False)))
        for i in items
    )


def _block_to_dict(block: Block) -> dict[str, Any]:
    if isinstance(block, Heading):
        return {"type": "heading", "text": block.text, "level": block.level}
    if isinstance(block, Paragraph):
        return {
            "type": "paragraph",
            "runs": _runs_to_list(block.runs),
            "align": block.align,
            "indent": block.indent,
        }
    if isinstance(block, Bullet):
        return {"type": "bullet", "runs": _runs_to_list(block.runs)}
    return {
        "type": "table",
        "rows": [list(row) for row in block.rows],
        "header": block.header,
        "widths": list(block.widths) if block.widths is not None else None,
    }


def _block_from_dict(data: dict[str, Any]) -> Block:
    kind = data["type"]
    if kind == "heading":
        return Heading(nfc(data["text"]), int(data.get("level", 1)))
    if kind == "paragraph":
        return Paragraph(
            _runs_from_list(data["runs"]),
            data.get("align", "justify"),
            bool(data.get("indent", True)),
        )
    if kind == "bullet":
        return Bullet(_runs_from_list(data["runs"]))
    if kind == "table":
        widths = data.get("widths")
        return Table(
            tuple(tuple(nfc(cell) for cell in row) for row in data["rows"]),
            bool(data.get("header", True)),
            tuple(float(w) for w in widths) if widths is not None else None,
        )
    raise ValueError(f"unknown block type: {kind!r}")


def text(value: str, *, bold: bool = False, italic: bool = False) -> tuple[Run, ...]:
    """Shorthand for a one-run paragraph or bullet."""
    return (Run(nfc(value), bold, italic),)


__all__ = [
    "NUMBER_SIGNS",
    "TITLES",
    "Block",
    "Bullet",
    "Heading",
    "Kind",
    "Paragraph",
    "Run",
    "Signature",
    "StateDocument",
    "Table",
    "nfc",
    "text",
]
