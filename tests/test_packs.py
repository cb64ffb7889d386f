from __future__ import annotations

import time
from pathlib import Path

import pytest

from ecabinet.core.errors import InvalidInput
from ecabinet.services.packs import parse_pack, read_loaded
from ecabinet.services.packs.yaml_loader import MAX_YAML_BYTES

GOOD = """
meeting:
  title: Họp thử
participants:
  - {user: chutich, role: chair}
agenda:
  - title: Mục một
    items:
      - title: Mục con
"""


def test_a_valid_pack_parses_with_nfc_text() -> None:
    decomposed = "Ho\u0323p thu\u031b\u0309"  # "Họp thử" typed with combining marks
    spec = parse_pack(GOOD.replace("Họp thử", decomposed))
    assert spec.meeting.title == "Họp thử"
    assert spec.agenda[0].items[0].title == "Mục con"


def test_every_problem_is_reported_with_its_line() -> None:
    text = """meeting:
  title: Họp thử
participants:
  - {user: chutich, role: president}
  - {user: chutich, role: chair}
agenda:
  - title: Mục
    minutes: -5
"""
    with pytest.raises(InvalidInput) as err:
        parse_pack(text)
    details = err.value.details
    assert {d["field"] for d in details} == {"participants.0.role", "agenda.0.minutes"}
    assert {d["line"] for d in details} == {4, 8}


def test_consistency_problems_are_listed_together() -> None:
    text = """meeting: {title: Họp}
participants:
  - {user: a1, role: chair}
  - {user: a1, role: delegate, proxy_holder: zz}
agenda:
  - {title: Trùng}
  - {title: Trùng}
  - title: Cha
    items:
      - title: Con
        items: [{title: Cháu}]
"""
    with pytest.raises(InvalidInput) as err:
        parse_pack(text)
    messages = " | ".join(d["message"] for d in err.value.details)
    assert "duplicate participant" in messages
    assert "proxy holder is not a participant" in messages
    assert "duplicate item" in messages
    assert "at most two levels" in messages


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_pack("meeting:\n  title: [unclosed\n")
    assert err.value.code == "invalid_pack"
    assert err.value.details[0]["line"] is not None


def _refused(text: str) -> dict[str, object]:
    with pytest.raises(InvalidInput) as err:
        parse_pack(text)
    assert err.value.code == "invalid_pack"
    [problem] = err.value.details
    assert problem["file"] == "meeting.yaml"
    return dict(problem)


def _laughs(levels: int) -> str:
    """The "billion laughs": each agenda item holds ten of the one before, by YAML alias, so a
    few hundred bytes unfold into 10**levels items."""
    lines = ["meeting: {title: Họp}", "agenda:", "  - &l0 {title: a}"]
    for level in range(1, levels + 1):
        tens = ",".join([f"*l{level - 1}"] * 10)
        lines.append(f"  - &l{level} {{title: a{level}, items: [{tens}]}}")
    return "\n".join(lines) + "\n"


def test_yaml_aliases_are_refused_before_anything_unfolds() -> None:
    bomb = _laughs(5)
    assert len(bomb.encode()) < 600  # 10**5 items once unfolded
    started = time.perf_counter()
    problem = _refused(bomb)
    assert time.perf_counter() - started < 0.2
    assert problem["code"] == "pack_yaml_aliases" and problem["line"] == 3
    assert "bí danh" in str(problem["message"])
    # An anchor alone (no alias yet) is refused too: there is no use for one in a pack.
    anchored = _refused("meeting: &m {title: Họp}\n")
    assert anchored["code"] == "pack_yaml_aliases" and anchored["line"] == 1


def test_a_meeting_yaml_too_large_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    # Malformed from its first line: had it been parsed, the error would say so.
    text = "meeting: [\n" + "# lấp đầy\n" * (MAX_YAML_BYTES // 10)
    assert len(text.encode()) > MAX_YAML_BYTES
    assert _refused(text)["code"] == "pack_yaml_too_large"
    (tmp_path / "meeting.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        read_loaded(tmp_path)
    assert err.value.details[0]["code"] == "pack_yaml_too_large"


def test_a_meeting_yaml_nested_too_deep_is_refused_with_its_line() -> None:
    deep = "meeting: {title: Họp}\nagenda:\n  - title: x\n    description: " + "[" * 5000
    deep += "]" * 5000 + "\n"
    problem = _refused(deep)
    assert problem["code"] == "pack_yaml_too_deep" and problem["line"] == 4
    # The deepest pack the format allows (an agenda one level too deep, for the rule to name)
    # is far from the limit.
    three_levels = GOOD.replace(
        "      - title: Mục con\n",
        "      - title: Mục con\n        items:\n          - title: Mục cháu\n"
        "            documents: [{file: a.pdf}]\n",
    )
    with pytest.raises(InvalidInput) as err:
        parse_pack(three_levels)
    assert "at most two levels" in err.value.details[0]["message"]


def test_a_value_yaml_cannot_build_is_a_problem_with_its_line() -> None:
    huge = "meeting: {title: Họp}\nparticipants:\n  - {user: ab, role: delegate, weight: "
    problem = _refused(huge + "9" * 5000 + "}\n")
    assert problem["line"] == 3 and problem["code"] == "pack_yaml_value"
    assert _refused("meeting:\n  title: Họp\n  starts_at: 2026-13-45\n")["line"] == 3
