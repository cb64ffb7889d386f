"""Voting rules: poll kinds, valid choices, the weighted tally and the decision by majority rule.

Pure and exact: counts and weights are integers, thresholds are ``Fraction``s, percentages are
rounded half-up from exact fractions only for display. Nothing here knows about storage or who
the voters are; the services hand in the ballots (one per represented participant, with its
weight) and the attendance figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import Any
from unicodedata import normalize

from ecabinet.core.text import nfc
from ecabinet.domain.procedure import MAJORITY_LABELS, Majority
from ecabinet.domain.quorum import Quorum
from ecabinet.domain.thresholds import fewest


class PollKind(StrEnum):
    YES_NO_ABSTAIN = "yes_no_abstain"  # tán thành / không tán thành / không biểu quyết
    SINGLE = "single"  # one of several options
    MULTIPLE = "multiple"  # up to k of several options


class PollStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class Base(StrEnum):
    """What a majority is a fraction of."""

    CAST = "cast"  # the votes cast (abstentions in or out, by the poll's setting)
    PRESENT = "present"  # the voting members present (a silent member counts against)
    MEMBERS = "members"  # all voting members of the meeting


@dataclass(frozen=True)
class Rule:
    threshold: Fraction
    strict: bool  # "more than" (simple majority) or "at least" (two thirds)
    base: Base


RULES: dict[Majority, Rule] = {
    Majority.SIMPLE_CAST: Rule(Fraction(1, 2), True, Base.CAST),
    Majority.SIMPLE_PRESENT: Rule(Fraction(1, 2), True, Base.PRESENT),
    Majority.SIMPLE_MEMBERS: Rule(Fraction(1, 2), True, Base.MEMBERS),
    Majority.TWO_THIRDS_CAST: Rule(Fraction(2, 3), False, Base.CAST),
    Majority.TWO_THIRDS_PRESENT: Rule(Fraction(2, 3), False, Base.PRESENT),
    Majority.TWO_THIRDS_MEMBERS: Rule(Fraction(2, 3), False, Base.MEMBERS),
}
BASE_LABELS = {
    Base.CAST: ("số phiếu biểu quyết", "votes cast"),
    Base.PRESENT: ("số thành viên có mặt", "members present"),
    Base.MEMBERS: ("tổng số thành viên", "all members"),
}
YES, NO, ABSTAIN = "yes", "no", "abstain"
KIND_LABELS = {
    PollKind.YES_NO_ABSTAIN: "Tán thành / Không tán thành / Không biểu quyết",
    PollKind.SINGLE: "Chọn một phương án",
    PollKind.MULTIPLE: "Chọn nhiều phương án",
}
STATUS_LABELS = {
    PollStatus.DRAFT: "bản nháp",
    PollStatus.OPEN: "đang biểu quyết",
    PollStatus.CLOSED: "đã kết thúc",
    PollStatus.PUBLISHED: "đã công bố",
    PollStatus.CANCELLED: "đã hủy",
}
MAX_OPTIONS = 100


class Refusal(ValueError):
    """A rule says no. ``code`` is stable; ``message`` is Vietnamese with an English hint."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Option:
    id: str
    label: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label}


YES_NO_OPTIONS = (
    Option(YES, "Tán thành"),
    Option(NO, "Không tán thành"),
    Option(ABSTAIN, "Không biểu quyết"),
)


@dataclass(frozen=True)
class PollSpec:
    """What the tally needs to know about a poll."""

    kind: PollKind
    options: tuple[Option, ...]
    max_choices: int = 1
    majority: Majority = Majority.SIMPLE_CAST
    abstentions_count: bool = False

    @property
    def rule(self) -> Rule:
        return RULES[self.majority]


# ---------------------------------------------------------------------------- definitions


def build_options(kind: PollKind, labels: Sequence[str]) -> tuple[Option, ...]:
    """The options of a new poll: fixed for yes/no/abstain, numbered "1".."n" otherwise."""
    if kind is PollKind.YES_NO_ABSTAIN:
        if labels:
            raise Refusal(
                "options_not_allowed",
                "Biểu quyết tán thành/không tán thành có sẵn phương án "
                "(a yes/no/abstain poll takes no options).",
            )
        return YES_NO_OPTIONS
    cleaned = [label.strip() for label in labels]
    if len(cleaned) < 2:
        raise Refusal("too_few_options", "Cần ít nhất hai phương án (at least two options).")
    if len(cleaned) > MAX_OPTIONS:
        raise Refusal(
            "too_many_options", f"Tối đa {MAX_OPTIONS} phương án (at most {MAX_OPTIONS} options)."
        )
    if any(not label for label in cleaned):
        raise Refusal("empty_option", "Phương án không được để trống (an option is empty).")
    folded = [label.casefold() for label in cleaned]
    if len(set(folded)) != len(folded):
        raise Refusal("duplicate_option", "Hai phương án trùng nhau (duplicate options).")
    return tuple(Option(str(i), label) for i, label in enumerate(cleaned, start=1))


def check_definition(
    kind: PollKind, options: Sequence[Option], max_choices: int, *, secret: bool,
    allow_change: bool,
) -> None:
    """Refuse a poll definition that cannot be voted on as configured."""
    if kind is PollKind.MULTIPLE:
        if not 1 <= max_choices <= len(options):
            raise Refusal(
                "invalid_max_choices",
                f"Số phương án được chọn phải từ 1 đến {len(options)} "
                f"(max_choices must be between 1 and {len(options)}).",
            )
    elif max_choices != 1:
        raise Refusal(
            "invalid_max_choices",
            "Chỉ phiếu chọn nhiều phương án mới có max_choices > 1 "
            "(only a multiple-choice poll takes max_choices > 1).",
        )
    if secret and allow_change:
        raise Refusal(
            "secret_no_change",
            "Phiếu kín đã bỏ không thể sửa: không có gì nối lá phiếu với người bỏ phiếu "
            "(a secret ballot cannot be changed: nothing links it to its voter).",
        )


TRANSITIONS: dict[PollStatus, frozenset[PollStatus]] = {
    PollStatus.DRAFT: frozenset({PollStatus.OPEN, PollStatus.CANCELLED}),
    PollStatus.OPEN: frozenset({PollStatus.CLOSED, PollStatus.CANCELLED}),
    PollStatus.CLOSED: frozenset({PollStatus.PUBLISHED, PollStatus.CANCELLED}),
    PollStatus.PUBLISHED: frozenset(),
    PollStatus.CANCELLED: frozenset(),
}


def check_transition(current: PollStatus, target: PollStatus, *, secret: bool = False) -> None:
    """Refuse a move the lifecycle has no arrow for.

    A closed secret poll can only be published: its totals have been computed and shown to the
    chair, so cancelling it and voting again would let whoever closed it right after one member
    voted learn that member's choice and then discard the evidence (issue #14, finding 8).
    """
    if secret and current is PollStatus.CLOSED and target in (PollStatus.OPEN,
                                                               PollStatus.CANCELLED):
        raise Refusal(
            "secret_poll_closed",
            "Phiếu kín đã kết thúc và đã kiểm phiếu: không thể hủy hay mở lại; kết quả được "
            "giữ trong hồ sơ cuộc họp (a closed secret poll can be neither cancelled nor "
            "reopened).",
            {"from": current.value, "to": target.value},
        )
    if target not in TRANSITIONS[current]:
        raise Refusal(
            "invalid_poll_status",
            f"Không thể chuyển phiếu biểu quyết từ '{STATUS_LABELS[current]}' sang "
            f"'{STATUS_LABELS[target]}' ({current.value} → {target.value} is not allowed).",
            {"from": current.value, "to": target.value},
        )


# ---------------------------------------------------------------------------- ballots


def normalise_choice(spec: PollSpec, choice: Sequence[str]) -> tuple[str, ...]:
    """A valid choice in the options' order, or ``Refusal``.

    Yes/no/abstain takes exactly one option. A single or multiple-choice ballot may be blank
    (an empty choice: "phiếu trắng"), which counts as an abstention.
    """
    known = [o.id for o in spec.options]
    unknown = [c for c in choice if c not in known]
    if unknown:
        raise Refusal(
            "unknown_option",
            f"Phương án không tồn tại: {', '.join(map(str, unknown))} (unknown option).",
            {"unknown": list(unknown), "options": known},
        )
    if len(set(choice)) != len(choice):
        raise Refusal("duplicate_choice", "Một phương án được chọn hai lần (duplicate choice).")
    if spec.kind is PollKind.YES_NO_ABSTAIN and len(choice) != 1:
        raise Refusal(
            "choice_required",
            "Hãy chọn đúng một: tán thành, không tán thành hoặc không biểu quyết "
            "(choose exactly one of yes, no, abstain).",
        )
    if len(choice) > spec.max_choices:
        raise Refusal(
            "too_many_choices",
            f"Chỉ được chọn tối đa {spec.max_choices} phương án "
            f"(at most {spec.max_choices} choices).",
            {"max_choices": spec.max_choices},
        )
    chosen = set(choice)
    return tuple(o for o in known if o in chosen)


def is_abstention(spec: PollSpec, choice: Sequence[str]) -> bool:
    if spec.kind is PollKind.YES_NO_ABSTAIN:
        return tuple(choice) == (ABSTAIN,)
    return len(choice) == 0


@dataclass(frozen=True)
class CastBallot:
    """One represented participant's ballot: their weight and what they chose."""

    choice: tuple[str, ...]
    weight: int = 1


def check_quorum(quorum: Quorum) -> None:
    """Refuse when the members present (or represented) do not make a quorum."""
    if not quorum.reached:
        raise Refusal(
            "no_quorum",
            f"Chưa đủ số thành viên dự họp: có mặt và được ủy quyền {quorum.counted}/"
            f"{quorum.total}, cần {quorum.required} (no quorum: {quorum.counted} of "
            f"{quorum.total} present or represented, {quorum.required} needed).",
            quorum_view(quorum),
        )


def quorum_view(quorum: Quorum) -> dict[str, Any]:
    return {
        "reached": quorum.reached,
        "total_weight": quorum.total,
        "present_weight": quorum.present,
        "represented_weight": quorum.represented,
        "counted_weight": quorum.counted,
        "required_weight": quorum.required,
        "members_total": quorum.members_total,
        "members_present": quorum.members_present,
        "members_represented": quorum.members_represented,
    }


# ---------------------------------------------------------------------------- arithmetic


def percent(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with two decimals, rounded half-up exactly."""
    if whole <= 0:
        return "0.00"
    exact = Fraction(100 * part, whole)
    value = Decimal(exact.numerator) / Decimal(exact.denominator)
    # Decimal division is exact to 28 digits; quantising then cannot misround a tie that matters
    # at two decimals (ties have a short exact expansion).
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def votes_needed(rule: Rule, base: int) -> int:
    """The fewest votes that satisfy ``rule`` out of ``base`` (base 0: impossible, 1)."""
    return fewest(rule.threshold, base, strict=rule.strict)


def satisfies(rule: Rule, votes: int, base: int) -> bool:
    """Whether ``votes`` out of ``base`` make the majority (never without a vote or a base)."""
    return base > 0 and votes > 0 and votes >= votes_needed(rule, base)


# ---------------------------------------------------------------------------- the tally


@dataclass(frozen=True)
class OptionResult:
    id: str
    label: str
    votes: int  # weighted
    ballots: int  # heads
    percent: str  # of the rule's base
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "votes": self.votes,
            "ballots": self.ballots,
            "percent": self.percent,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class Result:
    outcome: str  # passed, rejected, tie, no_quorum
    reason: str
    options: tuple[OptionResult, ...]
    ballots: int
    weight_cast: int
    abstentions: int  # weighted: "abstain" or blank ballots
    base: Base
    base_votes: int
    needed: int
    majority: Majority
    abstentions_count: bool
    quorum: dict[str, Any] = field(default_factory=dict)
    elected: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_dict(self) -> dict[str, Any]:
        base_vi, base_en = BASE_LABELS[self.base]
        return {
            "outcome": self.outcome,
            "passed": self.passed,
            "reason": self.reason,
            "majority": self.majority.value,
            "majority_label": MAJORITY_LABELS[self.majority],
            "abstentions_count": self.abstentions_count,
            "base": self.base.value,
            "base_label": base_vi,
            "base_label_en": base_en,
            "base_votes": self.base_votes,
            "needed": self.needed,
            "ballots": self.ballots,
            "weight_cast": self.weight_cast,
            "abstentions": self.abstentions,
            "options": [o.to_dict() for o in self.options],
            "elected": list(self.elected),
            "quorum": dict(self.quorum),
        }


def tally(spec: PollSpec, ballots: Iterable[CastBallot], quorum: Quorum) -> Result:
    """Count weighted ballots and decide by the poll's rule and the quorum at the close.

    ``quorum`` is the attendance at the close (``domain.quorum.compute``): its counted weight
    (present in person or by proxy) is the base of "members present", its total weight the base
    of "all members". Whoever cast a ballot must be counted present by the caller.
    """
    rule = spec.rule
    votes = {o.id: 0 for o in spec.options}
    heads = {o.id: 0 for o in spec.options}
    n_ballots = weight_cast = abstentions = 0
    for ballot in ballots:
        n_ballots += 1
        weight_cast += ballot.weight
        if is_abstention(spec, ballot.choice):
            abstentions += ballot.weight
        for option_id in ballot.choice:
            votes[option_id] += ballot.weight
            heads[option_id] += 1
    if rule.base is Base.CAST:
        base_votes = weight_cast if spec.abstentions_count else weight_cast - abstentions
    elif rule.base is Base.PRESENT:
        base_votes = quorum.counted
    else:
        base_votes = quorum.total
    needed = votes_needed(rule, base_votes)
    candidates = [o for o in spec.options if spec.kind is not PollKind.YES_NO_ABSTAIN
                  or o.id == YES]
    qualified = {o.id for o in candidates if satisfies(rule, votes[o.id], base_votes)}
    outcome, reason, elected = _decide(spec, votes, qualified, needed, base_votes)
    if not quorum.reached:
        outcome, elected = "no_quorum", set()
        reason = (
            f"Không hợp lệ: không đủ số thành viên dự họp khi kết thúc biểu quyết "
            f"({quorum.counted}/{quorum.total}, cần {quorum.required}) (no quorum at the close)."
        )
    options = tuple(
        OptionResult(
            o.id, o.label, votes[o.id], heads[o.id], percent(votes[o.id], base_votes),
            o.id in elected,
        )
        for o in spec.options
    )
    return Result(
        outcome=outcome,
        reason=reason,
        options=options,
        ballots=n_ballots,
        weight_cast=weight_cast,
        abstentions=abstentions,
        base=rule.base,
        base_votes=base_votes,
        needed=needed,
        majority=spec.majority,
        abstentions_count=spec.abstentions_count,
        quorum=quorum_view(quorum),
        elected=tuple(o.id for o in spec.options if o.id in elected),
    )


def _decide(
    spec: PollSpec, votes: dict[str, int], qualified: set[str], needed: int, base: int
) -> tuple[str, str, set[str]]:
    rule_vi = MAJORITY_LABELS[spec.majority]
    labels = {o.id: o.label for o in spec.options}
    if base <= 0:
        return (
            "rejected",
            "Không thông qua: không có phiếu hợp lệ để tính (not adopted: no votes to count).",
            set(),
        )
    if spec.kind is PollKind.YES_NO_ABSTAIN:
        yes = votes[YES]
        share = percent(yes, base)
        if YES in qualified:
            return (
                "passed",
                f"Thông qua: {yes}/{base} phiếu tán thành ({share}%), đạt {rule_vi} "
                f"(cần ít nhất {needed}) (adopted: {yes} of {base}, {needed} needed).",
                {YES},
            )
        return (
            "rejected",
            f"Không thông qua: {yes}/{base} phiếu tán thành ({share}%), chưa đạt {rule_vi} "
            f"(cần ít nhất {needed}) (not adopted: {yes} of {base}, {needed} needed).",
            set(),
        )
    seats = 1 if spec.kind is PollKind.SINGLE else spec.max_choices
    ranked = sorted(qualified, key=lambda o: -votes[o])
    if not ranked:
        best = max(votes.values())
        leaders = [o for o in spec.options if votes[o.id] == best]
        if len(leaders) > 1 and best > 0:
            names = ", ".join(f"“{o.label}”" for o in leaders)
            top = f"{names} bằng phiếu nhau, {best} phiếu"
        else:
            top = f"cao nhất “{leaders[0].label}” {best} phiếu"
        return (
            "rejected",
            f"Không thông qua: không phương án nào đạt {rule_vi} (cần ít nhất {needed}/{base}; "
            f"{top}) (no option reached the majority).",
            set(),
        )
    if len(ranked) <= seats:
        elected = set(ranked)
    else:
        cut = votes[ranked[seats - 1]]
        above = {o for o in ranked if votes[o] > cut}
        tied = [o for o in ranked if votes[o] == cut]
        if len(above) + len(tied) > seats:
            names = ", ".join(f"“{labels[o]}”" for o in sorted(tied, key=_option_order))
            if not above:
                return (
                    "tie",
                    f"Không thông qua: các phương án {names} bằng phiếu nhau ({cut} phiếu) "
                    f"(tie: {len(tied)} options with {cut} votes).",
                    set(),
                )
            elected = above
            chosen = ", ".join(f"“{labels[o]}”" for o in sorted(above, key=_option_order))
            return (
                "tie",
                f"Trúng: {chosen}; còn {seats - len(above)} vị trí mà các phương án {names} "
                f"bằng phiếu nhau ({cut} phiếu) (tie for the last "
                f"{seats - len(above)} place(s)).",
                elected,
            )
        elected = set(ranked[:seats])
    chosen = ", ".join(
        f"“{labels[o]}” {votes[o]} phiếu ({percent(votes[o], base)}%)"
        for o in sorted(elected, key=_option_order)
    )
    return (
        "passed",
        f"Thông qua: {chosen}, đạt {rule_vi} (cần ít nhất {needed}/{base}) "
        f"(adopted: {len(elected)} option(s) reached the majority).",
        elected,
    )


def _option_order(option_id: str) -> tuple[int, str]:
    return (int(option_id), option_id) if option_id.isdigit() else (0, option_id)


# ---------------------------------------------------------------------------- named lists

_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
_MODIFIED = {"a\u0306": "ă", "a\u0302": "â", "e\u0302": "ê", "o\u0302": "ô", "o\u031b": "ơ",
             "u\u031b": "ư", "đ": "đ"}
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền hỏi ngã sắc nặng


def _word_key(word: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    letters: list[int] = []
    tones: list[int] = []
    for char in nfc(word.casefold()):
        parts = normalize("NFD", char)  # the letter, then its marks
        base, marks = parts[0], parts[1:]
        tone = next((_TONES[m] for m in marks if m in _TONES), 0)
        modifier = "".join(m for m in marks if m not in _TONES)
        letter = _MODIFIED.get(base + modifier, base)
        index = _LETTERS.find(letter)
        letters.append(index if index >= 0 else 100 + ord(letter))
        tones.append(tone)
    return tuple(letters), tuple(tones)


@lru_cache(maxsize=65536)  # names repeat: every progress refresh sorts the same roll
def name_key(full_name: str) -> tuple[Any, ...]:
    """Vietnamese list order: by given name (the last word), then the whole name, in the
    Vietnamese alphabet (a ă â b c d đ e ê ...) with tones ordered ngang, huyền, hỏi, ngã,
    sắc, nặng."""
    words = full_name.split()
    if not words:
        return ((), ())
    given = _word_key(words[-1])
    rest = [_word_key(w) for w in words[:-1]]
    return (given[0], tuple(r[0] for r in rest), given[1], tuple(r[1] for r in rest))
