"""The protocol as JSON Schema for the Python client (written by ``ecabinet protocol write``).

The client (clients/python, installable without the server) validates every command it sends and
every event it receives against this file. ``ecabinet protocol write`` writes it with the docs,
and a test fails when it and the registries disagree, so a protocol change reaches the
client's tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ecabinet.protocol import REGISTRY, Registry
from ecabinet.protocol.docs import COMMON_ERRORS

CLIENT_JSON = (
    Path(__file__).resolve().parents[2] / "clients/python/ecabinet_client/protocol.json"
)
FORMAT = 1


def _schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    return schema


def document(registry: Registry = REGISTRY) -> dict[str, Any]:
    """The registries as one JSON-able document (commands, events and endpoints, sorted)."""
    commands = {
        name: {
            "summary": spec.summary,
            "roles": sorted(spec.roles),
            "errors": list(spec.errors),
            "schema": _schema(spec.schema, "validation"),
        }
        for name, spec in sorted(registry.commands.items())
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
        for name, spec in sorted(registry.events.items())
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
        for _key, spec in sorted(registry.endpoints.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    return {
        "format": FORMAT,
        "generated_by": "ecabinet protocol write",
        "common_errors": list(COMMON_ERRORS),
        "commands": commands,
        "events": events,
        "endpoints": endpoints,
    }


def render(registry: Registry = REGISTRY) -> str:
    return json.dumps(document(registry), ensure_ascii=False, indent=1) + "\n"


def write(registry: Registry = REGISTRY) -> Path:
    CLIENT_JSON.parent.mkdir(parents=True, exist_ok=True)
    CLIENT_JSON.write_text(render(registry), encoding="utf-8")
    return CLIENT_JSON
