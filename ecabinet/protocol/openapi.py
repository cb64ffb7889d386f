"""The OpenAPI 3.1 document of the HTTP endpoints, rendered from their declarations.

Served at ``GET /api/openapi.json``. Each declared endpoint becomes one operation: its path
parameters (from the route template's converters), its JSON body or multipart form (the
pydantic models' JSON schema), who may call it (``x-roles`` and the security requirement:
the session cookie or a bearer token), and its errors: the one error envelope
``{"error": {"code", "message", "details"}}`` whose ``code`` is one of the declared codes or
of those every endpoint of its kind may answer. Statuses per code are not listed: the same
code keeps its status everywhere, and the conventions in docs/protocol.md give them by class.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ecabinet.protocol import REGISTRY, SESSION_COOKIE, EndpointSpec, Registry
from ecabinet.protocol.roles import ANYONE

OPENAPI: Final = "3.1.0"
REF: Final = "#/components/schemas/{model}"
ERROR_SCHEMA: Final = "Error"
# What any endpoint may answer: a fault of the server or of its database.
SERVER_ERRORS: Final = ("database_unavailable", "internal")
# A signed-in caller is needed: none, or a token that is unknown or ended.
SESSION_ERRORS: Final = ("unauthenticated", "unknown_session", "session_ended")
# A JSON body: not JSON, not valid, too large.
BODY_ERRORS: Final = ("json_required", "malformed_json", "invalid_payload", "payload_too_large")
# Numeric ids in the path past what the database stores are the caller's bad input.
ID_ERRORS: Final = ("invalid_payload",)
# Any endpoint inside a meeting: a meeting the caller may not see does not exist for them.
MEETING_ERRORS: Final = ("meeting_not_found", "forbidden_role")
_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
_CONVERTERS: Final[dict[str, dict[str, Any]]] = {
    "int": {"type": "integer", "minimum": 0},
    "str": {"type": "string", "pattern": "^[^/]+$"},
}


def openapi_path(path: str) -> str:
    """``/api/meetings/{meeting_id:int}`` as OpenAPI writes it: ``/api/meetings/{meeting_id}``."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True,
         "schema": dict(_CONVERTERS[converter or "str"])}
        for name, converter in _PARAM.findall(path)
    ]


def error_codes(spec: EndpointSpec) -> list[str]:
    """Every error code the endpoint may answer: its declared ones and those of its kind."""
    codes = list(spec.errors)
    if spec.roles != ANYONE:
        codes += SESSION_ERRORS
    if spec.body is not None:
        codes += BODY_ERRORS
    if ":int}" in spec.path:
        codes += ID_ERRORS
    if "{meeting_id" in spec.path:
        codes += MEETING_ERRORS
    codes += SERVER_ERRORS
    return sorted(set(codes))


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every refusal and failure: a stable `code` for programs, a `message` "
        "in Vietnamese for people, and `details` when there is more to say (the fields at "
        "fault, `retry_after` in seconds, ...).",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "message": {"type": "string", "minLength": 1},
                    "details": {},
                },
            }
        },
    }


def _first_sentence(text: str) -> str:
    head = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return head if len(head) <= 120 else head[:117].rstrip() + "..."


def _success(spec: EndpointSpec) -> dict[str, Any]:
    if 300 <= spec.status < 400:
        return {"description": "Redirected (`Location`)."}
    return {"description": "Created." if spec.status == 201 else "Done."}


def _multipart(form: type[BaseModel]) -> dict[str, Any]:
    fields = form.model_json_schema()
    if "$defs" in fields:
        raise ValueError(f"{form.__name__}: a form's fields are plain values, not models")
    properties: dict[str, Any] = {
        "file": {"type": "string", "contentMediaType": "application/octet-stream",
                 "description": "The file (one part; size limit ECABINET_MAX_UPLOAD_MB)."},
    }
    properties.update(fields.get("properties", {}))
    return {"type": "object", "required": ["file"], "properties": properties}


def _operation(
    spec: EndpointSpec, refs: dict[type[BaseModel], str], operation_id: str
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": _first_sentence(spec.summary),
        "description": spec.summary,
        "tags": [spec.tag],
        "x-roles": sorted(spec.roles),
    }
    if spec.roles == ANYONE:
        op["security"] = []
    parameters = _parameters(spec.path)
    if parameters:
        op["parameters"] = parameters
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": refs[spec.body]}}},
        }
    elif spec.form is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": _multipart(spec.form)}},
        }
    codes = error_codes(spec)
    op["responses"] = {
        str(spec.status): _success(spec),
        "default": {
            "description": "Refused or failed; nothing changed. Codes: "
            + ", ".join(f"`{c}`" for c in codes) + ".",
            "content": {"application/json": {"schema": {
                "allOf": [
                    {"$ref": REF.format(model=ERROR_SCHEMA)},
                    {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
                ]
            }}},
        },
    }
    return op


def _schemas(registry: Registry) -> tuple[dict[type[BaseModel], str], dict[str, Any]]:
    """The JSON body models as components (pydantic names them, telling apart two models of
    the same name); a multipart form's fields are written inline."""
    models = {spec.body for spec in registry.endpoints.values() if spec.body is not None}
    ordered = sorted(models, key=lambda m: (m.__name__, m.__module__))
    keys, top = models_json_schema([(m, "validation") for m in ordered], ref_template=REF)
    refs = {model: str(keys[(model, "validation")]["$ref"]) for model in ordered}
    return refs, dict(top.get("$defs", {}))


def _operation_ids(registry: Registry) -> dict[tuple[str, str], str]:
    """``tag.handler`` (unique: two areas may each have an ``export_pack``)."""
    ids: dict[tuple[str, str], str] = {}
    for key, spec in registry.endpoints.items():
        name = spec.handler.__name__ if spec.handler is not None else key[0].lower()
        ids[key] = f"{spec.tag}.{name}"
    if len(set(ids.values())) != len(ids):
        raise ValueError("two endpoints of one area have handlers of the same name")
    return ids


def document(registry: Registry = REGISTRY, *, version: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``registry``'s endpoints (load every declaration first)."""
    refs, schemas = _schemas(registry)
    schemas[ERROR_SCHEMA] = _error_schema()
    operation_ids = _operation_ids(registry)
    paths: dict[str, dict[str, Any]] = {}
    for key in sorted(registry.endpoints, key=lambda k: (k[1], k[0])):
        spec = registry.endpoints[key]
        item = paths.setdefault(openapi_path(spec.path), {})
        item[spec.method.lower()] = _operation(spec, refs, operation_ids[key])
    tags = sorted({spec.tag for spec in registry.endpoints.values()})
    return {
        "openapi": OPENAPI,
        "info": {
            "title": "eCabinet",
            "version": version or "0",
            "summary": "Paperless meeting rooms: the HTTP API (the live room is on Socket.IO; "
            "see docs/protocol.md).",
        },
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "sessionCookie": {
                    "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                    "description": "Set by signing in from the sign-in page (browsers).",
                },
                "bearerToken": {
                    "type": "http", "scheme": "bearer",
                    "description": "The token answered by `POST /api/auth/signin`.",
                },
            },
        },
        "security": [{"sessionCookie": []}, {"bearerToken": []}],
    }
