"""Write the protocol as JSON Schema for the Python client: ``python -m ecabinet.protocol_json``.

The client (clients/python, installable without the server) validates every command it sends and
every event it receives against this file. ``python -m ecabinet.protocol_doc`` writes it too, and a
test fails when it and the registries disagree, so a protocol change reaches the client's tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ecabinet.protocol import REGISTRY, load_declarations
from ecabinet.protocol_doc import COMMON_ERRORS

CLIENT_JSON = (
    Path(__file__).resolve().parent.parent / "clients/python/ecabinet_client/protocol.json"
)
FORMAT = 1


def _schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    return schema


def document() -> dict[str, Any]:
    """The registries as one JSON-able document (commands, events and endpoints, sorted)."""
    load_declarations()
    commands = {
        name: {
            "summary": spec.summary,
            "roles": sorted(spec.roles),
            "errors": list(spec.errors),
            "schema": _schema(spec.schema, "validation"),
        }
        for name, spec in sorted(REGISTRY.commands.items())
    }
    events = {
        name: {
            "summary": spec.summary,
            "audience": spec.audience,
            "logged": spec.logged,
            "sent_by": spec.sent_by,
            # What the server sends is the model dumped in JSON mode.
            "schema": _schema(spec.schema, "serialization"),
        }
        for name, spec in sorted(REGISTRY.events.items())
    }
    endpoints = [
        {
            "method": spec.method,
            "path": spec.path,
            "summary": spec.summary,
            "roles": sorted(spec.roles),
            "errors": list(spec.errors),
            "body": _schema(spec.body, "validation") if spec.body is not None else None,
        }
        for _key, spec in sorted(REGISTRY.endpoints.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    return {
        "format": FORMAT,
        "generated_by": "python -m ecabinet.protocol_doc",
        "common_errors": list(COMMON_ERRORS),
        "commands": commands,
        "events": events,
        "endpoints": endpoints,
    }


def render() -> str:
    return json.dumps(document(), ensure_ascii=False, indent=1) + "\n"


def write() -> Path:
    CLIENT_JSON.parent.mkdir(parents=True, exist_ok=True)
    CLIENT_JSON.write_text(render(), encoding="utf-8")
    return CLIENT_JSON


def main() -> int:
    print(f"wrote {write()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
