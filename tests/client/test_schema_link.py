"""The client's schemas are the server's: generated into protocol.json, checked both ways.

A protocol change reaches the client through ``python -m ecabinet.protocol.docs``, which rewrites
clients/python/ecabinet_client/protocol.json; until it is run, the first test fails. After it,
a change that breaks what the client sends fails the tests below.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import ecabinet_client
import pytest
from ecabinet_client import InvalidInput, Protocol
from ecabinet_client.loadgen import example_value
from ecabinet_client.schema import unsupported
from pydantic import ValidationError

from ecabinet.app.declarations import load_declarations
from ecabinet.protocol import REGISTRY, Command
from ecabinet.protocol import jsonschema as protocol_json

load_declarations()
CLIENT_SOURCES = Path(ecabinet_client.__file__).parent
# What the command line, the load generator and its driver send, as they build it.
SENT_BY_THE_CLIENT: dict[str, dict[str, Any]] = {
    "meeting.start": {},
    "agenda.next": {},
    "agenda.goto": {"item_id": 3},
    "present.page": {"document_id": 4, "page": 0},
    "attendance.check_in": {},
    "poll.create": {"question": "Biểu quyết thử tải số 1", "kind": "yes_no_abstain"},
    "poll.open": {"poll_id": 1},
    "poll.close": {"poll_id": 1},
    "poll.cast": {"poll_id": 1, "choice": ["yes"]},
}


@pytest.fixture(scope="module")
def packaged() -> Protocol:
    return Protocol.load()


def test_protocol_json_is_current() -> None:
    assert protocol_json.CLIENT_JSON.read_text(encoding="utf-8") == protocol_json.render(), (
        "clients/python/ecabinet_client/protocol.json is stale: run "
        "`python -m ecabinet.protocol.docs`"
    )


def test_every_schema_converts_without_loss(packaged: Protocol) -> None:
    for name, info in packaged.commands.items():
        assert unsupported(info.schema) == [], name
        assert info.model.model_json_schema()["properties"].keys() == \
            info.schema.get("properties", {}).keys(), name
    for name, event in packaged.events.items():
        assert unsupported(event.schema) == [], name
        assert event.model is not None
    for endpoint in packaged.endpoints:
        assert endpoint.body is None or unsupported(endpoint.body) == [], endpoint.path


def _server_accepts(name: str, payload: dict[str, Any], *, schema_only: bool = False) -> bool:
    """With ``schema_only``, refusals by validators written in Python (which JSON Schema cannot
    carry, e.g. "give exactly one of uid and id") do not count."""
    try:
        REGISTRY.commands[name].schema.model_validate(payload)
    except ValidationError as exc:
        return schema_only and all(e["type"] == "value_error" for e in exc.errors())
    return True


def _client_accepts(protocol: Protocol, name: str, payload: dict[str, Any]) -> bool:
    try:
        protocol.validate_command(name, payload)
    except InvalidInput:
        return False
    return True


def test_client_and_server_judge_payloads_alike(packaged: Protocol) -> None:
    for name, info in packaged.commands.items():
        schema = info.schema
        good = example_value(schema, schema.get("$defs", {}),
                             {"meeting_id": 1, "client_id": "py-0123456789"})
        assert _client_accepts(packaged, name, good), name
        assert _server_accepts(name, good, schema_only=True), name
        extra = {**good, "khong_co": 1}
        assert not _server_accepts(name, extra) and not _client_accepts(packaged, name, extra)
        for field in schema.get("required", []):
            missing = {k: v for k, v in good.items() if k != field}
            assert not _server_accepts(name, missing), (name, field)
            assert not _client_accepts(packaged, name, missing), (name, field)
        if "meeting_id" in good:
            bad = {**good, "meeting_id": 0}
            assert not _server_accepts(name, bad) and not _client_accepts(packaged, name, bad)


def test_what_the_client_sends_is_what_the_server_declares(packaged: Protocol) -> None:
    for name, fields in SENT_BY_THE_CLIENT.items():
        payload = {"meeting_id": 1, "client_id": "py-0123456789", **fields}
        assert _client_accepts(packaged, name, payload), name
        assert _server_accepts(name, payload), name


def test_every_command_named_in_the_client_code_is_declared(packaged: Protocol) -> None:
    named = set()
    for source in ("cli.py", "loadgen.py", "tablets.py"):
        text = (CLIENT_SOURCES / source).read_text(encoding="utf-8")
        found = re.findall(r'"((?:meeting|agenda|present|poll|attendance)\.[a-z_]+)"', text)
        named |= {name for name in found if not name.endswith(".yaml")}
    assert named, "the scan found nothing"
    assert named - set(packaged.commands) - set(packaged.events) == set()
    assert set(SENT_BY_THE_CLIENT) <= named


class ChangedCast(Command):
    """poll.cast as a server change might make it: a renamed field, a new required one."""

    poll_id: int
    options: list[str]
    signature: str


def test_a_server_schema_change_breaks_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = REGISTRY.commands["poll.cast"]
    monkeypatch.setitem(REGISTRY.commands, "poll.cast", replace(spec, schema=ChangedCast))
    regenerated = protocol_json.render()
    assert regenerated != protocol_json.CLIENT_JSON.read_text(encoding="utf-8")  # stale: fails
    changed = Protocol.from_document(json.loads(regenerated))
    payload = {"meeting_id": 1, "client_id": "py-0123456789", **SENT_BY_THE_CLIENT["poll.cast"]}
    with pytest.raises(InvalidInput) as err:
        changed.validate_command("poll.cast", payload)
    assert {d["field"] for d in err.value.details} == {"choice", "options", "signature"}
