"""The server's protocol, as pydantic models built from the JSON Schema the server generates.

``protocol.json`` is written by the server (``ecabinet protocol write``) from the same
pydantic models it validates with, and a server test fails when it is stale. This module turns each
schema back into a pydantic model, so the client refuses a payload the server would refuse before
sending it, and can check every event it receives. Only the JSON Schema that pydantic emits is
needed; ``unsupported()`` lists anything else, and a test keeps that list empty.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ecabinet_client.errors import InvalidInput, UnknownCommand

# Keywords the converter understands; anything else is reported by ``unsupported``.
_UNDERSTOOD = {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems", "anyOf",
    "oneOf", "allOf", "enum", "const", "$ref", "$defs", "default", "title", "description",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
    "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "format", "examples",
    "discriminator", "readOnly", "writeOnly", "deprecated", "propertyNames", "minProperties",
    "maxProperties",
}
_SCALARS: dict[str, Any] = {
    "string": str, "integer": int, "number": float, "boolean": bool, "null": type(None),
}
_FORMATS: dict[str, Any] = {"date-time": datetime, "date": date}
_RESERVED = set(dir(BaseModel))


def _field_kwargs(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, arg in (("minimum", "ge"), ("maximum", "le"), ("exclusiveMinimum", "gt"),
                     ("exclusiveMaximum", "lt"), ("multipleOf", "multiple_of"),
                     ("minLength", "min_length"), ("maxLength", "max_length"),
                     ("minItems", "min_length"), ("maxItems", "max_length")):
        if key in schema:
            out[arg] = schema[key]
    if "pattern" in schema:
        out["pattern"] = schema["pattern"]
    return out


class _Builder:
    """Turns one root schema (with its ``$defs``) into pydantic types."""

    def __init__(self, root: dict[str, Any], name: str) -> None:
        self.defs: dict[str, Any] = root.get("$defs", {})
        self.name = name
        self.models: dict[str, Any] = {}
        self.building: set[str] = set()

    def model(self, schema: dict[str, Any], name: str) -> type[BaseModel]:
        fields: dict[str, Any] = {}
        required = set(schema.get("required", []))
        for prop, sub in schema.get("properties", {}).items():
            annotation = self.annotation(sub, f"{name}_{_ident(prop)}")
            default = ... if prop in required else sub.get("default")
            if _safe(prop):
                fields[prop] = (annotation, default)
            else:
                fields[f"f_{_ident(prop)}"] = (annotation, Field(default, alias=prop))
        extra = schema.get("additionalProperties", True)
        config = ConfigDict(extra="forbid" if extra is False else "allow", populate_by_name=True)
        model: type[BaseModel] = create_model(name, __config__=config, **fields)
        return model

    def annotation(self, schema: dict[str, Any], name: str) -> Any:
        base = self._base(schema, name)
        constraints = _field_kwargs(schema)
        if constraints and base is not Any:
            return Annotated[base, Field(**constraints)]
        return base

    def _base(self, schema: dict[str, Any], name: str) -> Any:
        if "$ref" in schema:
            return self._ref(str(schema["$ref"]))
        if "const" in schema:
            return Literal[schema["const"]]
        if "enum" in schema:
            return Literal[tuple(schema["enum"])]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self.annotation(s, f"{name}_{i}") for i, s in enumerate(schema[key])]
                return Union[tuple(options)]  # noqa: UP007  (built at run time)
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.annotation(schema["allOf"][0], name)
        kind = schema.get("type")
        if isinstance(kind, list):
            return Union[tuple(self._base({**schema, "type": k}, name) for k in kind)]  # noqa: UP007
        if kind == "string" and schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind == "array":
            if "prefixItems" in schema:
                parts = [self.annotation(s, f"{name}_{i}") for i, s in
                         enumerate(schema["prefixItems"])]
                return tuple.__class_getitem__(tuple(parts))
            item = self.annotation(schema.get("items", {}), f"{name}_item")
            return list[item]  # type: ignore[valid-type]
        if kind == "object" or "properties" in schema:
            if "properties" in schema:
                return self.model(schema, name)
            extra = schema.get("additionalProperties", True)
            value = self.annotation(extra, f"{name}_value") if isinstance(extra, dict) else Any
            return dict[str, value]  # type: ignore[valid-type]
        return Any

    def _ref(self, ref: str) -> Any:
        key = ref.rsplit("/", 1)[-1]
        if key in self.models:
            return self.models[key]
        if key in self.building:
            return key  # a recursive model: resolved by model_rebuild below
        target = self.defs.get(key, {})
        self.building.add(key)
        if "properties" in target or target.get("type") == "object":
            model = self.model(target, key)
            self.models[key] = model
        else:
            self.models[key] = self.annotation(target, key)
        self.building.discard(key)
        return self.models[key]

    def finish(self, model: type[BaseModel]) -> type[BaseModel]:
        namespace = {k: v for k, v in self.models.items() if isinstance(v, type)}
        for candidate in [*namespace.values(), model]:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                candidate.model_rebuild(_types_namespace=namespace)
        return model


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _safe(name: str) -> bool:
    return (name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
            and not name.startswith("model_") and name not in _RESERVED)


def model_from_schema(schema: dict[str, Any], name: str) -> type[BaseModel]:
    """A pydantic model equivalent to a JSON Schema object emitted by pydantic."""
    builder = _Builder(schema, name)
    return builder.finish(builder.model(schema, _ident(name)))


def unsupported(schema: Any, path: str = "$") -> list[str]:
    """JSON Schema keywords in ``schema`` that the converter would ignore."""
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key not in _UNDERSTOOD:
                found.append(f"{path}.{key}")
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    found += unsupported(sub, f"{path}.{key}.{name}")
            elif key in ("items", "additionalProperties", "propertyNames") and isinstance(
                value, dict
            ):
                found += unsupported(value, f"{path}.{key}")
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
                for i, sub in enumerate(value):
                    found += unsupported(sub, f"{path}.{key}[{i}]")
    return found


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """The same ``details`` shape as the server's ``invalid_payload``."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


@dataclass
class CommandInfo:
    name: str
    summary: str
    roles: list[str]
    errors: list[str]
    schema: dict[str, Any]
    _model: type[BaseModel] | None = field(default=None, repr=False)

    @property
    def fields(self) -> list[str]:
        return list(self.schema.get("properties", {}))

    @property
    def has_client_id(self) -> bool:
        """Commands that change something carry a client id (retries apply once)."""
        return "client_id" in self.schema.get("properties", {})

    @property
    def model(self) -> type[BaseModel]:
        if self._model is None:
            self._model = model_from_schema(self.schema, self.schema.get("title") or self.name)
        return self._model


@dataclass
class EventInfo:
    name: str
    summary: str
    audience: str
    logged: bool
    schema: dict[str, Any]
    _model: type[BaseModel] | None = field(default=None, repr=False)

    @property
    def model(self) -> type[BaseModel]:
        if self._model is None:
            self._model = model_from_schema(self.schema, self.schema.get("title") or self.name)
        return self._model


@dataclass
class EndpointInfo:
    method: str
    path: str
    summary: str
    roles: list[str]
    errors: list[str]
    body: dict[str, Any] | None


@dataclass
class Protocol:
    """Commands, events and endpoints of the server this client was built against."""

    commands: dict[str, CommandInfo]
    events: dict[str, EventInfo]
    endpoints: list[EndpointInfo]
    common_errors: list[str]

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Protocol:
        return cls(
            commands={
                name: CommandInfo(name, c["summary"], c["roles"], c["errors"], c["schema"])
                for name, c in doc["commands"].items()
            },
            events={
                name: EventInfo(name, e["summary"], e["audience"], e["logged"], e["schema"])
                for name, e in doc["events"].items()
            },
            endpoints=[
                EndpointInfo(e["method"], e["path"], e["summary"], e["roles"], e["errors"],
                             e["body"])
                for e in doc["endpoints"]
            ],
            common_errors=list(doc.get("common_errors", [])),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> Protocol:
        """The packaged protocol.json, or another file (a newer server's, for instance)."""
        if path is None:
            return _packaged()
        return cls.from_document(json.loads(Path(path).read_text(encoding="utf-8")))

    def command(self, name: str) -> CommandInfo:
        try:
            return self.commands[name]
        except KeyError:
            raise UnknownCommand(
                "unknown_command",
                f"Lệnh '{name}' không có trong giao thức (not a declared command).",
                {"command": name},
            ) from None

    def validate_command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Check a command's payload as the server will; answer the JSON to send."""
        info = self.command(name)
        try:
            model = info.model.model_validate(payload)
        except ValidationError as exc:
            raise InvalidInput(
                "invalid_payload",
                f"Dữ liệu không hợp lệ cho lệnh '{name}' (invalid payload).",
                field_errors(exc),
            ) from None
        data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return data

    def parse_event(self, type_: str, payload: Any) -> BaseModel:
        """The event's payload as its declared model (``ValidationError`` when it does not fit)."""
        info = self.events.get(type_)
        if info is None:
            raise UnknownCommand(
                "unknown_event", f"Sự kiện '{type_}' không có trong giao thức.", {"type": type_}
            )
        return info.model.model_validate(payload)

    def endpoint(self, method: str, pattern: str) -> EndpointInfo | None:
        """The first declared endpoint whose method matches and whose path matches ``pattern``."""
        regex = re.compile(pattern)
        for ep in self.endpoints:
            if ep.method == method.upper() and regex.search(ep.path):
                return ep
        return None


@cache
def _packaged() -> Protocol:
    text = resources.files("ecabinet_client").joinpath("protocol.json").read_text("utf-8")
    return Protocol.from_document(json.loads(text))
