"""Property: whatever the sequence of casts, changes and retries, and however they are grouped
into batches, the tally is the tally of the last valid ballot of each represented participant.

In-process, through the service layer and the batch writer (``WriteBatcher._transaction``: one
transaction, a SAVEPOINT per cast), on SQLite and PostgreSQL; acks are checked one by one
against a model written here independently of the server's rules.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecabinet.core.errors import EcabinetError
from ecabinet.core.validation import validate
from ecabinet.domain.procedure import Majority
from ecabinet.protocol import REGISTRY
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.pipeline import run_batched, run_command
from ecabinet.storage.batching import _Call
from ecabinet.storage.models import Attendance, Meeting
from tests.voting.conftest import create_voting_room

USERS = ("chutich", "daibieu1", "daibieu2", "daibieu3", "daibieu4", "thuky", "quansat")
WEIGHTS = {"chutich": 1, "daibieu1": 1, "daibieu2": 2, "daibieu3": 1, "daibieu4": 1}
PROXIES = {"daibieu4": "daibieu1"}  # giver -> holder
CHOICE_ERRORS = {"unknown_option", "duplicate_choice", "choice_required", "too_many_choices"}
KINDS = {
    "yes_no_abstain": ("yes", "no", "abstain"),
    "single": ("1", "2", "3"),
    "multiple": ("1", "2", "3"),
}


@dataclass
class World:
    app: Any
    mid: int
    pids: dict[str, int]
    infos: dict[str, SessionInfo]

    def run(self, name: str, user: str, payload: dict[str, Any]) -> Any:
        spec = REGISTRY.commands[name]
        body = validate(spec.schema, {"meeting_id": self.mid,
                                      "client_id": uuid.uuid4().hex, **payload})
        return self.app.runtime.db.run_sync(run_command, spec, self.infos[user], body)[0]


@pytest.fixture
def world(app: Any) -> World:
    def build(session: Any) -> dict[str, Any]:
        info = create_voting_room(session, status="in_session")
        for username in WEIGHTS:
            session.add(Attendance(meeting_id=info["meeting_id"],
                                   participant_id=info["participants"][username]))
        meeting = session.get(Meeting, info["meeting_id"])
        meeting.status = "in_session"
        return info

    info = app.runtime.db.run_sync(build)
    infos = {u: SessionInfo(info["users"][u], u, u, False, "vi", 0) for u in USERS}
    return World(app, info["meeting_id"], info["participants"], infos)


def choice_lists(kind: str, max_choices: int) -> st.SearchStrategy[list[str]]:
    """Mostly valid choices, some broken ones (unknown, repeated, too many, none)."""
    known = KINDS[kind]
    if kind == "yes_no_abstain":
        valid = st.sampled_from(known).map(lambda c: [c])
    else:
        size = 1 if kind == "single" else max_choices
        valid = st.lists(st.sampled_from(known), max_size=size, unique=True)
    wrong = st.lists(st.sampled_from([*known, "0", "4", "maybe", "yes", "1"]), max_size=4)
    return st.one_of(valid, valid, valid, wrong)


# Voters most of the time, so that ballots meet, clash and change.
ACTORS = st.sampled_from(["chutich", "daibieu1", "daibieu2", "daibieu3"] * 4 + list(USERS))
TARGETS = st.one_of(st.none(), st.none(), st.none(), st.sampled_from(sorted(WEIGHTS)))


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    poll = {
        "kind": kind,
        "majority": draw(st.sampled_from([m.value for m in Majority])),
        "abstentions_count": draw(st.booleans()),
        "max_choices": draw(st.integers(1, 3)) if kind == "multiple" else 1,
        "options": ["Một", "Hai", "Ba"] if kind != "yes_no_abstain" else [],
    }
    ops = draw(st.lists(st.tuples(
        ACTORS,
        TARGETS,                                       # for whom (None: oneself)
        choice_lists(kind, poll["max_choices"]),
        st.integers(0, 3),                             # client id: a small pool, so retries
    ), min_size=4, max_size=30))
    cuts = draw(st.lists(st.integers(1, 30), max_size=4))  # where batches end
    close_after = draw(st.one_of(st.none(), st.integers(0, len(ops))))
    return {"poll": poll, "ops": ops, "cuts": sorted(set(cuts)), "close_after": close_after}


def choice_ok(kind: str, max_choices: int, choice: list[str]) -> bool:
    if any(c not in KINDS[kind] for c in choice) or len(set(choice)) != len(choice):
        return False
    if kind == "yes_no_abstain":
        return len(choice) == 1
    return len(choice) <= (1 if kind == "single" else max_choices)


def expected_code(poll: dict[str, Any], open_: bool, user: str, target: str,
                  choice: list[str], ballots: dict[str, list[str]]) -> str | None:
    """What the server must answer, by the rules as docs/voting.md states them."""
    if not open_:
        return "poll_not_open"
    if target == user:
        if user not in WEIGHTS:
            return "no_voting_right"
        if user in PROXIES:
            return "proxy_given"
    elif PROXIES.get(target) != user:
        return "proxy_not_held"
    if not choice_ok(poll["kind"], poll["max_choices"], choice):
        return "choice"
    if target in ballots and not poll["allow_change"]:
        return "already_voted"
    return None


def check_scenario(world: World, scenario: dict[str, Any]) -> None:
    poll = scenario["poll"]
    created = world.run("poll.create", "chutich", {"question": "Thuộc tính", **poll})
    poll_id = created["poll_id"]
    world.run("poll.open", "chutich", {"poll_id": poll_id})
    by_pid = {pid: name for name, pid in world.pids.items()}
    ballots: dict[str, list[str]] = {}  # represented -> last valid choice
    receipts: dict[tuple[str, int], dict[str, Any]] = {}
    open_ = True
    spec = REGISTRY.commands["poll.cast"]
    ops = list(enumerate(scenario["ops"]))
    bounds = [0, *[c for c in scenario["cuts"] if c < len(ops)], len(ops)]
    for start, end in itertools.pairwise(bounds):
        chunk = ops[start:end]
        if not chunk:
            continue
        calls = []
        for _i, (user, target, choice, cid) in chunk:
            payload: dict[str, Any] = {"meeting_id": world.mid, "poll_id": poll_id,
                                       "choice": choice, "client_id": f"{poll_id}-{user}-{cid}"}
            if target is not None:
                payload["for_participant_id"] = world.pids[target]
            # As the dispatcher runs casts: no savepoint, rows written at the end of the batch.
            calls.append(_Call(run_batched, (spec, world.infos[user], validate(
                spec.schema, payload)), {}, None, savepoint=False))  # type: ignore[arg-type]
        outcomes = world.app.runtime.db.batcher._transaction(calls)
        for (i, (user, target, choice, cid)), (ok, value) in zip(chunk, outcomes, strict=True):
            who = target or user
            key = (user, cid)
            if key in receipts:  # a retry: the first answer, nothing applied
                assert ok and value[0] == {**receipts[key], "duplicate": True}, (i, value)
            else:
                code = expected_code(poll, open_, user, who, choice, ballots)
                if code is None:
                    assert ok, (i, user, who, choice, value)
                    assert value[0]["for_participant_id"] == world.pids[who]
                    assert value[0]["changed"] is (who in ballots)
                    ballots[who] = sorted(choice, key=KINDS[poll["kind"]].index)
                    receipts[key] = value[0]
                else:
                    assert not ok and isinstance(value, EcabinetError), (i, value)
                    if code == "choice":
                        assert value.code in CHOICE_ERRORS, (i, value.code)
                    else:
                        assert value.code == code, (i, user, who, choice, value.code)
        if scenario["close_after"] is not None and end > scenario["close_after"] and open_:
            world.run("poll.close", "chutich", {"poll_id": poll_id})
            open_ = False
    if open_:
        closed = world.run("poll.close", "chutich", {"poll_id": poll_id})
        result = closed["result"]
    else:
        result = world.run("poll.publish", "chutich", {"poll_id": poll_id})["result"]
    totals = dict.fromkeys(KINDS[poll["kind"]], 0)
    for who, choice in ballots.items():
        for option in choice:
            totals[option] += WEIGHTS[who]
    assert {o["id"]: o["votes"] for o in result["options"]} == totals
    assert result["ballots"] == len(ballots)
    assert result["weight_cast"] == sum(WEIGHTS[w] for w in ballots)
    if not poll["secret"]:
        named = {by_pid[v["participant_id"]]: v["choice"] for v in result["votes"]}
        assert named == ballots


MODES = ({"secret": False, "allow_change": False}, {"secret": False, "allow_change": True},
         {"secret": True, "allow_change": False})


@pytest.mark.slow
def test_the_tally_is_the_last_valid_ballot_of_each_voter(world: World,
                                                          database_url: str | None) -> None:
    # Every example runs three polls; PostgreSQL's commits cost more, so it gets fewer.
    @settings(max_examples=30 if database_url is None else 10, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(scenario=scenarios())
    def the_same_sequence_in_every_mode(scenario: dict[str, Any]) -> None:
        for mode in MODES:  # against a named, a changeable and a secret poll
            check_scenario(world, {**scenario, "poll": {**scenario["poll"], **mode}})

    the_same_sequence_in_every_mode()
