"""Where an annotation belongs in a new version of its document, found from the text (pure).

When the secretary replaces a document, each annotation on the old version is placed on the new
one by these rules, in order:

1. **Highlights follow their text.** The highlighted words (``data.text``) are searched in the new
   version: on the same page first, then on the pages next to it, one step further at a time
   (an anchor shorter than four letters is looked for on its own page only, as it would match
   anywhere). On a page with several occurrences the one nearest the old position wins. The new
   rectangles are the found words' boxes, one per line.
2. **Ink, notes and free text follow the words around them.** The words the annotation covers, or
   else the line beside it (the nearest in height, within two inches above or below, however
   far to the side: a margin note), are its implicit anchor (at least eight letters, widened
   with neighbouring words when shorter). That anchor is searched in the new version (its page,
   then up to three pages either side) and the annotation moves by the anchor's displacement,
   so a note beside a paragraph that moved down half a page moves with it.
3. **Nothing to follow.** An annotation far from any text, or on a page with no text (a scan, a
   picture) stays where it was when the new version still has that page at the same size and
   the page's text is essentially the same (at least 80 % alike; two pages without text count as
   alike).

Whatever these rules cannot place, or would place partly off the page, is not carried: the caller
keeps it, marked as belonging to the previous version. Text is compared letters and digits only,
case-folded, so re-flowed lines, hyphenation and punctuation changes do not lose an anchor.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ecabinet.core.text import nfc
from ecabinet.domain import annotations as rules

Word = Sequence[Any]  # [x0, y0, x1, y1, text], in points from the displayed page's top left
Box = tuple[float, float, float, float]

SHORT_ANCHOR: Final = 4  # letters: shorter text anchors are searched on their own page only
CONTEXT_LETTERS: Final = 8  # an implicit anchor needs this many letters to be distinctive
CONTEXT_PAGES: Final = 3  # implicit anchors are searched this many pages either side
CONTEXT_REACH: Final = 144.0  # points (2 in) above or below: farther from text, no context
COVER_MARGIN: Final = 6.0  # points around an annotation that count as "covering" a word
MAX_CONTEXT_WORDS: Final = 40  # a stroke around a whole paragraph anchors on its first words
SAME_PAGE_RATIO: Final = 0.8  # two pages this alike (by their words) are "the same page"
SIZE_TOLERANCE: Final = 1.0  # points


class Pages(Protocol):
    """One version of a document, page by page (words are read lazily by the caller)."""

    page_count: int

    def words(self, page: int) -> list[Word]: ...

    def size(self, page: int) -> tuple[float, float] | None: ...


@dataclass(frozen=True)
class Placement:
    page: int
    data: dict[str, Any]
    how: str  # "text", "context" or "same"


def normalise(text: str) -> str:
    """Letters and digits only, NFC, case-folded: what anchors are compared on."""
    folded = nfc(text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


@dataclass
class _PageIndex:
    """A page's words joined into one string, with where each word starts and ends in it."""

    words: list[Word]
    joined: str
    starts: dict[int, int]  # offset -> word index
    ends: dict[int, int]  # offset just past a word -> word index

    @classmethod
    def build(cls, words: list[Word]) -> _PageIndex:
        parts: list[str] = []
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        offset = 0
        for index, word in enumerate(words):
            norm = normalise(str(word[4]))
            if not norm:
                continue
            starts.setdefault(offset, index)
            parts.append(norm)
            offset += len(norm)
            ends[offset] = index
        return cls(words, "".join(parts), starts, ends)

    def find(self, anchor: str) -> Iterator[tuple[int, int]]:
        """Each occurrence of ``anchor`` that starts and ends on word boundaries: (first, last)
        word indexes."""
        at = self.joined.find(anchor)
        while at >= 0:
            first = self.starts.get(at)
            last = self.ends.get(at + len(anchor))
            if first is not None and last is not None:
                yield first, last
            at = self.joined.find(anchor, at + 1)


class _Indexed:
    """Page indexes of one version, built when first needed."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self._cache: dict[int, _PageIndex] = {}

    def __getitem__(self, page: int) -> _PageIndex:
        if page not in self._cache:
            self._cache[page] = _PageIndex.build(self.pages.words(page))
        return self._cache[page]


def union(words: Sequence[Word]) -> Box:
    return (
        min(float(w[0]) for w in words),
        min(float(w[1]) for w in words),
        max(float(w[2]) for w in words),
        max(float(w[3]) for w in words),
    )


def _distance(a: Box, b: Box) -> float:
    """Gap between two boxes (0 when they touch or overlap)."""
    dx = max(0.0, a[0] - b[2], b[0] - a[2])
    dy = max(0.0, a[1] - b[3], b[1] - a[3])
    return float((dx * dx + dy * dy) ** 0.5)


def _page_order(page: int, count: int, reach: int | None) -> Iterator[int]:
    """``page``, then the pages next to it one step further at a time, within ``reach``."""
    if 0 <= page < count:
        yield page
    limit = count if reach is None else reach
    for step in range(1, limit + 1):
        for candidate in (page + step, page - step):
            if 0 <= candidate < count:
                yield candidate


def find_anchor(
    pages: _Indexed, anchor: str, page: int, near: Box, reach: int | None
) -> tuple[int, list[Word]] | None:
    """The words spelling ``anchor`` nearest to where it was: (page, words)."""
    if not anchor:
        return None
    for candidate in _page_order(page, pages.pages.page_count, reach):
        index = pages[candidate]
        hits = [index.words[first:last + 1] for first, last in index.find(anchor)]
        if hits:
            best = min(hits, key=lambda words: _distance(union(words), near))
            return candidate, best
    return None


def line_rects(words: Sequence[Word]) -> list[list[float]]:
    """One rectangle per line of ``words`` (a word joins the line it overlaps vertically)."""
    lines: list[list[float]] = []
    for word in words:
        x0, y0, x1, y1 = (float(v) for v in word[:4])
        if lines:
            line = lines[-1]
            overlap = min(line[3], y1) - max(line[1], y0)
            if overlap > 0.5 * min(line[3] - line[1], y1 - y0) and x0 >= line[0] - 1:
                line[:] = [min(line[0], x0), min(line[1], y0), max(line[2], x1), max(line[3], y1)]
                continue
        lines.append([x0, y0, x1, y1])
    return [[round(v, 2) for v in line] for line in lines]


def _lines(words: list[Word]) -> list[tuple[int, int]]:
    """Runs of consecutive words on one line: (first, last) indexes."""
    runs: list[tuple[int, int]] = []
    for index, word in enumerate(words):
        if runs:
            first, last = runs[-1]
            prev = words[last]
            overlap = min(float(prev[3]), float(word[3])) - max(float(prev[1]), float(word[1]))
            height = min(float(prev[3]) - float(prev[1]), float(word[3]) - float(word[1]))
            if overlap > 0.5 * height:
                runs[-1] = (first, index)
                continue
        runs.append((index, index))
    return runs


def _gaps(a: Box, b: Box) -> tuple[float, float]:
    """(vertical, horizontal) gaps between two boxes, 0 where they overlap."""
    return max(0.0, a[1] - b[3], b[1] - a[3]), max(0.0, a[0] - b[2], b[0] - a[2])


def context_words(words: list[Word], around: Box) -> list[Word] | None:
    """The implicit anchor of an annotation at ``around``: the words it covers, else words of
    the line beside it (the nearest in height, as a margin note refers to the line it sits
    at); ``None`` when no text is within reach or it is too short to tell."""
    if not words:
        return None
    margin = (
        around[0] - COVER_MARGIN, around[1] - COVER_MARGIN,
        around[2] + COVER_MARGIN, around[3] + COVER_MARGIN,
    )
    covered = [
        i for i, w in enumerate(words) if _distance((w[0], w[1], w[2], w[3]), margin) == 0
    ]
    if covered:
        first, last = min(covered), max(covered)
        if last - first + 1 > MAX_CONTEXT_WORDS:
            last = first + 11
    else:
        lines = _lines(words)
        first, last = min(lines, key=lambda run: _gaps(union(words[run[0]:run[1] + 1]), around))
        if _gaps(union(words[first:last + 1]), around)[0] > CONTEXT_REACH:
            return None
        if last - first + 1 > 12:  # a long line: the words nearest to the annotation
            nearest = min(range(first, last + 1),
                          key=lambda i: _distance(union([words[i]]), around))
            first, last = max(first, nearest - 5), min(last, nearest + 6)

    def letters() -> int:
        return sum(len(normalise(str(w[4]))) for w in words[first:last + 1])

    while letters() < CONTEXT_LETTERS * 2 and (first > 0 or last < len(words) - 1):
        first, last = max(0, first - 1), min(len(words) - 1, last + 1)
    if letters() < CONTEXT_LETTERS:
        return None
    return list(words[first:last + 1])


def _alike(a: list[Word], b: list[Word]) -> bool:
    left = [normalise(str(w[4])) for w in a]
    right = [normalise(str(w[4])) for w in b]
    left, right = [t for t in left if t], [t for t in right if t]
    if not left and not right:
        return True
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio() >= SAME_PAGE_RATIO


def _fits(kind: str, data: Mapping[str, Any], size: tuple[float, float] | None) -> bool:
    if size is None:
        size = (rules.LARGEST_PAGE, rules.LARGEST_PAGE)
    return rules.off_page(kind, data, *size) is None


class Anchoring:
    """Places annotations of one old version (``old``) on a new one (``new``)."""

    def __init__(self, old: Pages, new: Pages) -> None:
        self.old = _Indexed(old)
        self.new = _Indexed(new)

    def place(self, kind: str, page: int, data: Mapping[str, Any]) -> Placement | None:
        """Where the annotation goes in the new version, or ``None`` when it cannot follow."""
        around = rules.box(kind, data)
        if kind == "highlight" and normalise(str(data.get("text", ""))):
            return self._by_text(page, data, around)
        return self._by_context(kind, page, data, around)

    def _by_text(self, page: int, data: Mapping[str, Any], around: Box) -> Placement | None:
        anchor = normalise(str(data["text"]))
        reach = 0 if len(anchor) < SHORT_ANCHOR else None
        found = find_anchor(self.new, anchor, page, around, reach)
        if found is None:
            return None
        new_page, words = found
        moved = {**data, "rects": line_rects(words)}
        if not _fits("highlight", moved, self.new.pages.size(new_page)):
            return None
        return Placement(new_page, moved, "text")

    def _by_context(
        self, kind: str, page: int, data: Mapping[str, Any], around: Box
    ) -> Placement | None:
        old_words = self.old[page].words if 0 <= page < self.old.pages.page_count else []
        anchor_words = context_words(old_words, around)
        if anchor_words is not None:
            anchor = "".join(normalise(str(w[4])) for w in anchor_words)
            found = find_anchor(self.new, anchor, page, union(anchor_words), CONTEXT_PAGES)
            if found is None:
                return None
            new_page, words = found
            before, after = union(anchor_words), union(words)
            moved = rules.translated(kind, data, after[0] - before[0], after[1] - before[1])
            if not _fits(kind, moved, self.new.pages.size(new_page)):
                return None
            return Placement(new_page, moved, "context")
        # Nothing to follow: stay put if the page is still there, the same size and alike.
        if not 0 <= page < self.new.pages.page_count:
            return None
        old_size, new_size = self.old.pages.size(page), self.new.pages.size(page)
        if old_size is None or new_size is None or any(
            abs(a - b) > SIZE_TOLERANCE for a, b in zip(old_size, new_size, strict=True)
        ):
            return None
        if not _alike(old_words, self.new[page].words):
            return None
        return Placement(page, dict(data), "same")
