"""The pure rules: visibility audiences, geometry, and re-anchoring on a new version."""

from __future__ import annotations

from typing import Any

import pytest

from ecabinet.domain import annotations as rules
from ecabinet.domain.anchoring import Anchoring, context_words, line_rects, normalise
from ecabinet.domain.annotations import Audience, Visibility


class Pages:
    """A document version made of word lists (one per page), A4 pages."""

    def __init__(self, pages: list[list[list[Any]]], size: tuple[float, float] = (595, 842)):
        self.pages = pages
        self.page_count = len(pages)
        self._size = size

    def words(self, page: int) -> list[Any]:
        return self.pages[page]

    def size(self, page: int) -> tuple[float, float] | None:
        return self._size if 0 <= page < self.page_count else None


def line(y: float, text: str, x: float = 72) -> list[list[Any]]:
    """Words of one line, 6 points per letter, 4 between words."""
    out = []
    for word in text.split():
        out.append([x, y, x + 6 * len(word), y + 12, word])
        x += 6 * len(word) + 4
    return out


def test_audiences_and_who_reads() -> None:
    assert rules.audiences(Visibility.SHARED) == (Audience.MEETING,)
    assert rules.audiences(Visibility.STAFF) == (Audience.STAFF, Audience.AUTHOR)
    assert rules.audiences(Visibility.PRIVATE) == (Audience.AUTHOR,)
    assert rules.narrows(Visibility.SHARED, Visibility.STAFF)
    assert rules.narrows(Visibility.STAFF, Visibility.PRIVATE)
    assert not rules.narrows(Visibility.PRIVATE, Visibility.SHARED)
    assert rules.may_read(Visibility.PRIVATE, 1, 1, viewer_is_staff=False)
    assert not rules.may_read(Visibility.PRIVATE, 1, 2, viewer_is_staff=True)
    assert rules.may_read(Visibility.STAFF, 1, 2, viewer_is_staff=True)
    assert not rules.may_read(Visibility.STAFF, 1, 2, viewer_is_staff=False)
    assert rules.may_read(Visibility.SHARED, 1, 2, viewer_is_staff=False)
    assert rules.may_choose(Visibility.PRIVATE, observer=True)
    assert not rules.may_choose(Visibility.SHARED, observer=True)


def test_geometry() -> None:
    ink = {"strokes": [[[1, 2], [3, 4]], [[5, 6]]]}
    assert rules.point_count("ink", ink) == 3
    assert rules.box("ink", ink) == (1, 2, 5, 6)
    assert rules.off_page("ink", ink, 10, 10) is None
    assert rules.off_page("ink", ink, 4, 10) == (5, 6)
    assert rules.off_page("note", {"at": [595.4, 842.3]}, 595, 842) is None  # rounding slack
    assert rules.off_page("note", {"at": [-1, 5]}, 595, 842) == (-1, 5)
    moved = rules.translated("text", {"rect": [1, 1, 2, 2], "text": "x"}, 10, 20)
    assert moved == {"rect": [11, 21, 12, 22], "text": "x"}
    assert rules.page_size([[595, 842]], 0) == (595.0, 842.0)
    assert rules.page_size(None, 0) is None and rules.page_size([[1, 1]], 3) is None


def test_normalise_and_lines() -> None:
    assert normalise("Phát-triển, KINH tế!") == normalise("phát triển kinh tế")
    words = line(100, "một hai") + line(120, "ba")
    assert line_rects(words) == [[72, 100, 72 + 6 * 3 + 4 + 6 * 3, 112], [72, 120, 84, 132]]


def test_highlight_follows_its_text_to_the_nearest_occurrence() -> None:
    old = Pages([line(100, "Điều một quy định chung") + line(200, "quy định chung khác")])
    new = Pages([line(50, "Mở đầu"), line(300, "quy định chung nữa") + line(400, "Điều một "
                                                                              "quy định chung")])
    data = {"kind": "highlight", "rects": [[120, 100, 200, 112]], "text": "quy định chung"}
    placed = Anchoring(old, new).place("highlight", 0, data)
    assert placed is not None and placed.page == 1 and placed.how == "text"
    # Two occurrences on page 1: the one nearer to where it was (y 100) wins, at y 300.
    assert placed.data["rects"][0][1] == 300


def test_short_anchor_stays_on_its_page_and_missing_text_is_not_placed() -> None:
    old = Pages([line(100, "Khoản 5 điều 7")])
    new = Pages([line(100, "Khoản điều 7"), line(100, "Khoản 5")])
    short = {"kind": "highlight", "rects": [[120, 100, 126, 112]], "text": "5"}
    assert Anchoring(old, new).place("highlight", 0, short) is None
    gone = {"kind": "highlight", "rects": [[72, 100, 100, 112]], "text": "không còn nữa"}
    assert Anchoring(old, new).place("highlight", 0, gone) is None


def test_note_moves_with_the_line_beside_it() -> None:
    old = Pages([line(100, "Điều bốn hiệu lực thi hành")])
    new = Pages([line(100, "Căn cứ luật") + line(250, "Điều bốn hiệu lực thi hành")])
    note = {"kind": "note", "at": [500, 104], "text": "?"}
    placed = Anchoring(old, new).place("note", 0, note)
    assert placed is not None and placed.how == "context" and placed.data["at"] == [500, 254]


def test_ink_off_the_new_page_is_not_placed() -> None:
    old = Pages([line(100, "Điều bốn hiệu lực thi hành")])
    new = Pages([line(800, "Điều bốn hiệu lực thi hành")])
    ink = {"kind": "ink", "strokes": [[[72, 110], [200, 160]]]}
    assert Anchoring(old, new).place("ink", 0, ink) is None


def test_far_from_text_stays_only_on_an_alike_page_of_the_same_size() -> None:
    text = line(100, "Biểu mẫu đính kèm số một")
    ink = {"kind": "ink", "strokes": [[[300, 600], [310, 610]]]}
    same = Anchoring(Pages([text]), Pages([list(text)])).place("ink", 0, ink)
    assert same is not None and same.how == "same" and same.data == ink
    other = Pages([line(100, "Nội dung hoàn toàn khác hẳn trước")])
    assert Anchoring(Pages([text]), other).place("ink", 0, ink) is None
    bigger = Pages([list(text)], size=(842, 1191))
    assert Anchoring(Pages([text]), bigger).place("ink", 0, ink) is None
    scans = Anchoring(Pages([[]]), Pages([[]])).place("ink", 0, ink)
    assert scans is not None and scans.how == "same"
    assert Anchoring(Pages([[]]), Pages([])).place("ink", 0, ink) is None


def test_context_needs_enough_letters() -> None:
    assert context_words([], (0, 0, 1, 1)) is None
    assert context_words(line(100, "a b"), (0, 100, 1, 101)) is None
    assert context_words(line(100, "a b"), (0, 600, 1, 601)) is None
    found = context_words(line(100, "đây là một dòng chữ đủ dài"), (400, 100, 401, 101))
    assert found is not None and found[0][4] == "đây"


@pytest.mark.parametrize("kind,data", [
    ("ink", {"strokes": [[[10, 10]]]}),
    ("highlight", {"rects": [[10, 10, 20, 20]], "text": ""}),
    ("text", {"rect": [10, 10, 20, 20], "text": "x"}),
])
def test_every_kind_has_points(kind: str, data: dict[str, Any]) -> None:
    assert rules.off_page(kind, data, 595, 842) is None
    assert rules.box(kind, data)[0] == 10
