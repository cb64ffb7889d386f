"""Annotation rules: kinds and their geometry, who sees what, and which audiences hear of a change.

Geometry is in PDF points with the origin at the top left of the page as displayed (rotation
applied), the same space as the page text's word boxes, so it scales to any image size. An
annotation's ``data`` depends on its kind:

- ``ink``: ``strokes`` (lists of ``[x, y]`` points), ``colour``, ``width``, ``opacity``;
- ``highlight``: ``rects`` (``[x0, y0, x1, y1]``, one per line, from the page's word boxes),
  ``text`` (the words highlighted: the anchor that follows the text into a new version),
  ``comment``, ``colour``;
- ``note`` (a sticky note): ``at`` (``[x, y]``), ``text``, ``colour``;
- ``text`` (free text on the page): ``rect``, ``text``, ``font_size``, ``colour``.

Visibility: ``private`` (the author's devices), ``staff`` (the chair and secretaries, and the
author), ``shared`` (everyone in the meeting who may see the document). Each one's readers include
the previous one's, which decides when a change of visibility must first take the annotation
away from people who no longer see it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any, Final

KINDS: Final = ("ink", "highlight", "note", "text")
# Every stroke of one ink annotation together; a long signature-like scribble has ~1,500.
MAX_POINTS: Final = 5_000
MAX_STROKES: Final = 500
# Coordinates may pass the page's edge by this much (rounding in clients' scaling).
EDGE_SLACK: Final = 0.5
# The largest page PDF allows (200 inches): the bound when a page's size is not known.
LARGEST_PAGE: Final = 14_400.0


class Visibility(StrEnum):
    PRIVATE = "private"
    STAFF = "staff"
    SHARED = "shared"


# private < staff < shared: the readers of each include those of the ones before it.
_RANK: Final = {Visibility.PRIVATE: 0, Visibility.STAFF: 1, Visibility.SHARED: 2}


class Audience(StrEnum):
    """Who an annotation event goes to."""

    MEETING = "meeting"  # everyone joined (a logged event)
    STAFF = "staff"  # the chair's and secretaries' devices
    AUTHOR = "author"  # the author's own devices


def audiences(visibility: Visibility) -> tuple[Audience, ...]:
    """The smallest set of audiences that reaches every reader of an annotation."""
    if visibility is Visibility.SHARED:
        return (Audience.MEETING,)  # the author and the staff are in the meeting's room
    if visibility is Visibility.STAFF:
        return (Audience.STAFF, Audience.AUTHOR)
    return (Audience.AUTHOR,)


def narrows(old: Visibility, new: Visibility) -> bool:
    """True when some readers of ``old`` do not read ``new``: they get a removal first."""
    return _RANK[new] < _RANK[old]


def may_read(
    visibility: Visibility, author_id: int, viewer_id: int, *, viewer_is_staff: bool
) -> bool:
    """Whether the viewer sees an annotation (the document's own visibility aside)."""
    if author_id == viewer_id or visibility is Visibility.SHARED:
        return True
    return visibility is Visibility.STAFF and viewer_is_staff


def may_choose(visibility: Visibility, *, observer: bool) -> bool:
    """Observers (guests, press) keep private notes; sharing is for the meeting's members."""
    return visibility is Visibility.PRIVATE or not observer


# --- geometry ---------------------------------------------------------------------------------


def points(kind: str, data: Mapping[str, Any]) -> Iterator[tuple[float, float]]:
    """Every coordinate pair of an annotation's geometry (rectangles give two corners)."""
    if kind == "ink":
        for stroke in data["strokes"]:
            for x, y in stroke:
                yield x, y
    elif kind == "highlight":
        for x0, y0, x1, y1 in data["rects"]:
            yield x0, y0
            yield x1, y1
    elif kind == "note":
        x, y = data["at"]
        yield x, y
    elif kind == "text":
        x0, y0, x1, y1 = data["rect"]
        yield x0, y0
        yield x1, y1
    else:
        raise ValueError(f"unknown annotation kind {kind!r}")


def point_count(kind: str, data: Mapping[str, Any]) -> int:
    if kind == "ink":
        return sum(len(stroke) for stroke in data["strokes"])
    return sum(1 for _ in points(kind, data))


def box(kind: str, data: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """The bounding box of the geometry."""
    xs, ys = zip(*points(kind, data), strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def off_page(
    kind: str, data: Mapping[str, Any], width: float, height: float
) -> tuple[float, float] | None:
    """The first coordinate outside the page (``None`` when all are on it)."""
    for x, y in points(kind, data):
        if not (-EDGE_SLACK <= x <= width + EDGE_SLACK and -EDGE_SLACK <= y <= height + EDGE_SLACK):
            return x, y
    return None


def inverted_rect(kind: str, data: Mapping[str, Any]) -> bool:
    """A rectangle given with its corners swapped (x1 < x0 or y1 < y0)."""
    rects = data["rects"] if kind == "highlight" else [data["rect"]] if kind == "text" else []
    return any(x1 < x0 or y1 < y0 for x0, y0, x1, y1 in rects)


def translated(kind: str, data: Mapping[str, Any], dx: float, dy: float) -> dict[str, Any]:
    """The same annotation moved by (dx, dy) points."""

    def move(x: float, y: float) -> list[float]:
        return [round(x + dx, 2), round(y + dy, 2)]

    out = dict(data)
    if kind == "ink":
        out["strokes"] = [[move(x, y) for x, y in stroke] for stroke in data["strokes"]]
    elif kind == "highlight":
        out["rects"] = [move(x0, y0) + move(x1, y1) for x0, y0, x1, y1 in data["rects"]]
    elif kind == "note":
        out["at"] = move(*data["at"])
    elif kind == "text":
        x0, y0, x1, y1 = data["rect"]
        out["rect"] = move(x0, y0) + move(x1, y1)
    return out


def page_size(sizes: list[Any] | None, page: int) -> tuple[float, float] | None:
    """A page's (width, height) from a blob's recorded sizes, if recorded."""
    if not sizes or not 0 <= page < len(sizes):
        return None
    width, height = sizes[page]
    return float(width), float(height)
