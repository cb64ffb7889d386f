from __future__ import annotations

import pytest

from ecabinet.core.errors import InvalidInput
from ecabinet.services.packs import parse_pack

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
