"""docs/protocol.md rendered from the protocol registry (written by ``ecabinet protocol write``).

A test regenerates the text and compares it with the committed file, so the document can never
fall behind the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ecabinet.protocol import REGISTRY, CommandSpec, EndpointSpec, EventSpec, Registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
COMMON_ERRORS = (
    "invalid_payload",
    "forbidden_role",
    "meeting_not_found",
    "rate_limited",
    "payload_too_large",
    "client_id_reused",
    "database_unavailable",
    "internal",
)

PREAMBLE = """# ecabinet protocol

Generated from `ecabinet/protocol/` and the modules that declare commands, events and endpoints
(`ecabinet protocol write`); a test fails when this file and the code disagree.

## Conventions

**Transport.** One Socket.IO server (python-socketio, Engine.IO v4) at `/socket.io/`, same origin
as the pages. The handshake authenticates with the browser's `ecabinet_session` cookie or, for the
Python client, `auth: {"token": "<token from POST /api/auth/signin>"}`. A refused handshake gets a
`connect_error` whose `data` is `{"code", "message"}` (`unauthenticated`, `unknown_session`,
`session_ended`).

**Commands** are Socket.IO events sent by the client with an acknowledgement callback. Every
command that changes something carries `meeting_id` and a `client_id` (8–64 characters of
`A-Za-z0-9_.:-`, unique per user and command): a retry with the same `client_id` is applied once
and answers the first answer again with `"duplicate": true`. The ack comes after the commit:

- success: `{"ok": true, ...data, "seq": <last sequence number it caused, if any>}`
- refusal: `{"ok": false, "error": {"code": "<stable code>", "message": "<Vietnamese text>",
  "details": ...}}`; nothing changed.

Unknown fields are refused (`invalid_payload`, with `details` listing each field). Each connection
may send about 20 commands a second (bursts of 40) and 128 KiB per command; past that the ack is
`rate_limited` (with `details.retry_after` in seconds) or `payload_too_large`, and the connection
carries on. Errors every command may answer: {common}.

**Events** arrive as the Socket.IO event `event` with the envelope
`{"meeting_id", "seq", "type", "payload", "at"}`. Meeting-wide events are written to the meeting's
log in the same transaction as the change and carry a gap-free, per-meeting `seq` (1, 2, 3, ...).
Events for the staff or for one user's devices, and live streams, have `"seq": null`: what they
carry is state that the next snapshot or resync answer holds again.

**Join and resync.** `meeting.join {meeting_id}` answers `{"mode": "snapshot", "seq": N,
"snapshot": {...}}`. Events with `seq <= N` that arrive around the answer are already in it:
drop them. Apply the others strictly in order; when one arrives with `seq > last + 1`, wait
briefly for the gap to fill (events from several server processes may cross), then re-join with
`since`. `meeting.join {meeting_id, since: last}` answers `{"mode": "events", "seq": N,
"events": [...], "private": {...}}` with exactly the missed events (and the private snapshot
parts), or a fresh snapshot when `since` is too far back. A `since` beyond the meeting's last
sequence number is refused with `unknown_seq`: join without `since`.

**Observers** receive the same sequence numbers as everyone, with confidential content replaced
("Nội dung mật (confidential)").

**A change of your place in a meeting** (another role, removed, or the meeting taken back to
draft) moves your connection on the server to the rooms you now belong to, or out of the
meeting, before any later event, and sends you `membership.changed` (outside the log): join again
without `since`; `meeting_not_found` then means you no longer take part.

**HTTP.** JSON endpoints live under `/api/`, take `Content-Type: application/json` bodies, and
authenticate with `Authorization: Bearer <token>` or the session cookie. Errors are
`{"error": {"code", "message", "details"}}` with the matching HTTP status (400 invalid input,
401 not signed in, 403 forbidden, 404 not found or not visible to you, 409 conflict, 413 too large,
429 rate limited with `Retry-After`, 503 unavailable); a path no endpoint serves answers
`not_found`, a method it does not serve `method_not_allowed`. The routes are built from the
declarations below, and so is the OpenAPI 3.1 document at `GET /api/openapi.json` (each
endpoint's parameters, body, roles and error codes).
"""


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        target = defs.get(name, {})
        if "enum" in target:
            return " \\| ".join(f"`{v}`" for v in target["enum"])
        return name
    if "anyOf" in schema:
        return " or ".join(_type(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), defs)}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map of {_type(schema['additionalProperties'], defs)}"
    return str(kind)


def _limits(schema: dict[str, Any]) -> str:
    names = {
        "minimum": "≥",
        "maximum": "≤",
        "exclusiveMinimum": ">",
        "minLength": "min length",
        "maxLength": "max length",
        "minItems": "min items",
        "maxItems": "max items",
        "pattern": "pattern",
    }
    parts = [f"{label} {schema[key]}" for key, label in names.items() if key in schema]
    for sub in schema.get("anyOf", []):
        parts.extend(f"{label} {sub[key]}" for key, label in names.items() if key in sub)
    return ", ".join(parts)


def fields_table(model: type[BaseModel]) -> list[str]:
    schema = model.model_json_schema()
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return ["No fields."]
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    lines = ["| field | type | required | limits |", "|---|---|---|---|"]
    for name, prop in props.items():
        lines.append(
            f"| `{name}` | {_type(prop, defs)} | {'yes' if name in required else 'no'} "
            f"| {_limits(prop)} |"
        )
    return lines


def _command(spec: CommandSpec) -> list[str]:
    roles = ", ".join(sorted(spec.roles))
    out = [f"### `{spec.name}`", "", spec.summary, "", f"- Who may send: {roles}"]
    if spec.errors:
        out.append("- Errors besides the common ones: " + ", ".join(f"`{e}`" for e in spec.errors))
    return [*out, "", *fields_table(spec.schema), ""]


def _event(spec: EventSpec) -> list[str]:
    audience = {
        "meeting": "everyone in the meeting",
        "staff": "the chair and secretaries",
        "user": "the user's own devices",
    }[spec.audience]
    out = [
        f"### `{spec.name}`",
        "",
        spec.summary,
        "",
        f"- Received by: {audience}",
        f"- Logged with a sequence number: {'yes' if spec.logged else 'no'}",
    ]
    if spec.sent_by:
        out.append(f"- Caused by: {spec.sent_by}")
    return [*out, "", *fields_table(spec.schema), ""]


def _endpoint(spec: EndpointSpec) -> list[str]:
    out = [
        f"### `{spec.method} {spec.path}`",
        "",
        spec.summary,
        "",
        f"- Who may call: {', '.join(sorted(spec.roles))}",
    ]
    if spec.errors:
        out.append("- Errors: " + ", ".join(f"`{e}`" for e in spec.errors))
    out.append("")
    if spec.body is not None:
        out += ["Body:", "", *fields_table(spec.body), ""]
    if spec.form is not None:
        out += ["Form (`multipart/form-data`): the file as `file`, and:", "",
                *fields_table(spec.form), ""]
    return out


def render(registry: Registry = REGISTRY) -> str:
    """The document for ``registry`` (load every declaration first: ``ecabinet.app``)."""
    lines = [
        PREAMBLE.replace("{common}", ", ".join(f"`{c}`" for c in COMMON_ERRORS)),
        "## Socket.IO commands",
        "",
    ]
    for name in sorted(registry.commands):
        lines += _command(registry.commands[name])
    lines += ["## Events", ""]
    for type_ in sorted(registry.events):
        lines += _event(registry.events[type_])
    lines += ["## HTTP endpoints", ""]
    for key in sorted(registry.endpoints, key=lambda k: (k[1], k[0])):
        lines += _endpoint(registry.endpoints[key])
    return "\n".join(lines).rstrip() + "\n"
