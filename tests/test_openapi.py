"""The OpenAPI document, and the one shape of every error answer.

The document is generated from the endpoint declarations (the same ones the routes come from),
validated as OpenAPI 3.1 and checked to list every endpoint. Then every declared endpoint is
called the ways a client gets it wrong (not signed in, from outside the meeting, with a body that
is not JSON, with ids that do not exist or that no database column holds): each error answer must
be the envelope that the document describes, with one of the codes it lists for that endpoint.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from ecabinet.app import create_app
from ecabinet.app.declarations import load_declarations
from ecabinet.protocol import REGISTRY, openapi
from tests.conftest import create_room, make_settings, sign_in

load_declarations()
SIGN_OUTS = {("POST", "/signout"), ("POST", "/api/auth/signout"),
             ("POST", "/api/auth/signout-all")}
# The status each error code was answered with: one code, one status, on every endpoint (the
# document lists codes per endpoint and leaves their statuses to this rule).
STATUS_OF: dict[str, int] = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = create_app(make_settings(tmp_path_factory.mktemp("openapi") / "data"))
    room = app.runtime.db.run_sync(create_room)
    with TestClient(app, base_url="http://testserver") as client:
        tokens = {user: sign_in(client, user) for user in ("nguoingoai", "quansat", "daibieu1")}
        yield client, room["meeting_id"], tokens, client.get("/api/openapi.json").json()
    app.runtime.db.close()


def inline(schema: Any, doc: dict[str, Any]) -> Any:
    """``schema`` with the document's ``#/components/schemas/...`` references written out."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return inline(doc["components"]["schemas"][ref.rsplit("/", 1)[-1]], doc)
        return {key: inline(value, doc) for key, value in schema.items()}
    if isinstance(schema, list):
        return [inline(value, doc) for value in schema]
    return schema


def operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = doc["paths"][openapi.openapi_path(path)][method.lower()]
    return found


def test_the_document_is_valid_openapi_3_1(world: Any) -> None:
    client, _mid, _tokens, doc = world
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert {"sessionCookie", "bearerToken"} <= set(doc["components"]["securitySchemes"])


def test_every_declared_endpoint_is_in_it(world: Any) -> None:
    _client, _mid, _tokens, doc = world
    listed = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert listed == {(m, openapi.openapi_path(p)) for m, p in REGISTRY.endpoints}
    for (method, path), spec in REGISTRY.endpoints.items():
        op = operation(doc, method, path)
        assert op["x-roles"] == sorted(spec.roles)
        assert op["description"] == spec.summary and op["tags"] == [spec.tag]
        params = {p["name"]: p["schema"]["type"] for p in op.get("parameters", [])}
        assert params == {name: "integer" if conv == "int" else "string"
                          for name, _, conv in re.findall(r"\{(\w+)(:(\w+))?\}", path)}
        codes = op["responses"]["default"]["content"]["application/json"]["schema"]["allOf"][1]
        assert set(spec.errors) <= set(codes["properties"]["error"]["properties"]["code"]["enum"])
        assert str(spec.status) in op["responses"]
        if spec.roles == {"anonymous"}:
            assert op["security"] == []
        else:
            assert "security" not in op  # the document's: the session cookie or a bearer token
        body = op.get("requestBody", {}).get("content", {})
        if spec.body is not None:
            schema = inline(body["application/json"]["schema"], doc)
            assert schema["properties"].keys() == spec.body.model_json_schema()["properties"].keys()
        elif spec.form is not None:
            fields = body["multipart/form-data"]["schema"]["properties"]
            assert set(fields) == {"file", *spec.form.model_json_schema().get("properties", {})}
        else:
            assert not body


def fill(path: str, meeting_id: int, value: int) -> str:
    """Real meeting, unknown ids (or ids past 32 bits), and a word for the text parameters."""
    def one(match: re.Match[str]) -> str:
        if match.group(3) != "int":
            return "tablet" if match.group(1) == "size" else "w0rd"
        return str(meeting_id if match.group(1) == "meeting_id" and value < 2**31 else value)

    return re.sub(r"\{(\w+)(:(\w+))?\}", one, path)


def check_error(doc: dict[str, Any], method: str, path: str, answer: Any) -> str:
    """Fails unless ``answer`` is the error envelope of ``method path``; returns its code."""
    where = f"{method} {path} -> {answer.status_code} {answer.text[:200]}"
    assert 400 <= answer.status_code < 600, where
    assert answer.headers["content-type"].startswith("application/json"), where
    schema = operation(doc, method, path)["responses"]["default"]["content"]["application/json"]
    errors = sorted(OAS31Validator(inline(schema["schema"], doc)).iter_errors(answer.json()),
                    key=str)
    assert not errors, f"{where}: {errors[0].message}"
    code: str = answer.json()["error"]["code"]
    assert STATUS_OF.setdefault(code, answer.status_code) == answer.status_code, (
        f"{where}: `{code}` was answered with {STATUS_OF[code]} elsewhere")
    return code


@pytest.mark.parametrize("key", sorted(REGISTRY.endpoints), ids=lambda k: f"{k[0]} {k[1]}")
def test_every_error_answer_has_the_one_shape(world: Any, key: tuple[str, str]) -> None:
    client, meeting_id, tokens, doc = world
    method, path = key
    callers: list[dict[str, str]] = [{}]  # anonymous
    if key not in SIGN_OUTS:
        callers += [{"authorization": f"Bearer {token}"} for token in tokens.values()]
    seen = set()
    for headers in callers:
        for value in (987654, 2**40):
            url = fill(path, meeting_id, value)
            for content in ("not json", '{"unexpected": [1]}'):
                answer = client.request(
                    method, url, content=content if method not in ("GET", "DELETE") else None,
                    headers={**headers, "content-type": "application/json"},
                    follow_redirects=False,
                )
                if answer.status_code >= 400:
                    seen.add(check_error(doc, method, path, answer))
    spec = REGISTRY.endpoints[key]
    # (A JSON body is checked before the caller: a bad one is refused for what it is.)
    if path.startswith("/api/") and spec.roles != {"anonymous"} and spec.body is None:
        assert "unauthenticated" in seen, f"{method} {path} served an anonymous caller"


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/nothing-here"),
                                              ("DELETE", "/api/meetings"),
                                              ("GET", "/api/meetings/abc")])
def test_unknown_paths_and_methods_answer_the_same_shape(
    world: Any, method: str, path: str
) -> None:
    client, _mid, _tokens, doc = world
    answer = client.request(method, path)
    assert answer.status_code in (404, 405)
    assert answer.headers["content-type"].startswith("application/json")
    error = OAS31Validator(inline({"$ref": "#/components/schemas/Error"}, doc))
    assert not list(error.iter_errors(answer.json()))
    assert answer.json()["error"]["code"] == ("not_found" if answer.status_code == 404
                                              else "method_not_allowed")


def test_the_document_is_written_from_the_declarations_alone() -> None:
    """No running application is needed: the protocol package renders it from the registry."""
    doc = openapi.document(REGISTRY, version="9.9")
    assert doc["info"]["version"] == "9.9"
    validate(doc)
