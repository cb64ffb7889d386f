"""Small helpers for the meeting-preparation tests: signed-in callers by user name."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import sign_in

ROOM_USERS = ("chutich", "thuky", "daibieu1", "daibieu2", "quansat", "nguoingoai")


class Callers:
    """Bearer headers per user name, signed in on first use."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def __call__(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            self.tokens[username] = sign_in(self.client, username)
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def get(self, username: str, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self(username), **kw)

    def post(self, username: str, url: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post(url, json=body, headers=self(username), **kw)

    def patch(self, username: str, url: str, body: Any = None) -> Any:
        return self.client.patch(url, json=body, headers=self(username))

    def put(self, username: str, url: str, body: Any = None) -> Any:
        return self.client.put(url, json=body, headers=self(username))

    def delete(self, username: str, url: str) -> Any:
        return self.client.delete(url, headers=self(username))


def code(response: Any) -> str:
    error: str = response.json()["error"]["code"]
    return error


def items_of(detail: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["number"], i["title"]) for i in detail["items"]]
