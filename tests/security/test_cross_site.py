"""Cross-site requests refused, forwarded headers believed only from proxies, ``__Host-`` cookies
(issue #14, findings 9 and 16).

A page on a sibling subdomain (``evil.testserver``) is "same-site" for the browser: SameSite=Lax
cookies ride along with its multipart form posts and its body-less fetches. Every request that
could change something must therefore come from this site's own pages (``Origin``,
``Sec-Fetch-Site``) or carry a bearer token instead of the cookie.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.testclient import TestClient

from ecabinet.app import create_app
from ecabinet.core.proxies import TrustedProxies, is_same_origin, parse_networks
from ecabinet.core.settings import Settings
from ecabinet.services import accounts
from ecabinet.storage.models import AuthSession, Document
from tests.conftest import PASSWORD, create_room, make_settings, sign_in
from tests.documents import samples

SITE = "http://testserver"
EVIL = {"origin": "https://evil.example"}
SIBLING = {"origin": "http://evil.testserver", "sec-fetch-site": "same-site"}
CROSS = {"sec-fetch-site": "cross-site"}
OWN = {"origin": SITE, "sec-fetch-site": "same-origin"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", render_workers=1)


@pytest.fixture
def meeting_id(app: Any) -> int:
    room: dict[str, Any] = app.runtime.db.run_sync(create_room)
    return int(room["meeting_id"])


def documents(app: Any) -> int:
    count: int = app.runtime.db.run_sync(
        lambda s: s.exec(select(func.count()).select_from(Document)).one()
    )
    return count


def open_sessions(app: Any) -> int:
    count: int = app.runtime.db.run_sync(lambda s: s.exec(
        select(func.count()).select_from(AuthSession).where(AuthSession.revoked_at.is_(None))  # type: ignore[union-attr]
    ).one())
    return count


def cookie_of(client: TestClient, username: str) -> dict[str, str]:
    return {"cookie": f"ecabinet_session={sign_in(client, username)}"}


def upload(client: TestClient, meeting_id: int, headers: dict[str, str]) -> Any:
    return client.post(
        f"/api/meetings/{meeting_id}/documents",
        files={"file": ("du-toan.pdf", samples.pdf(1), "application/pdf")},
        data={"title": "Dự toán ngân sách"},
        headers=headers,
    )


@pytest.mark.parametrize("forged", [EVIL, SIBLING, CROSS, {"origin": "null"}],
                         ids=["other-site", "sibling-subdomain", "fetch-metadata", "null-origin"])
def test_a_forged_upload_with_the_session_cookie_is_refused_and_changes_nothing(
    client: TestClient, app: Any, meeting_id: int, forged: dict[str, str]
) -> None:
    cookie = cookie_of(client, "thuky")
    refused = upload(client, meeting_id, {**cookie, **forged})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert documents(app) == 0
    accepted = upload(client, meeting_id, {**cookie, **OWN})
    assert accepted.status_code == 201, accepted.text
    assert documents(app) == 1


def test_a_forged_bodyless_post_is_refused(client: TestClient, app: Any, meeting_id: int) -> None:
    cookie = cookie_of(client, "daibieu1")
    before = open_sessions(app)
    for forged in (EVIL, SIBLING, CROSS):
        r = client.post("/api/auth/signout-all", headers={**cookie, **forged})
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert open_sessions(app) == before  # nobody was signed out
    assert client.get("/api/me", headers=cookie).status_code == 200
    ok = client.post("/api/auth/signout-all", headers={**cookie, **OWN})
    assert ok.status_code == 200 and ok.json()["sessions_ended"] == 1


def test_a_browser_page_gets_the_refusal_as_a_page(client: TestClient, meeting_id: int) -> None:
    cookie = cookie_of(client, "daibieu1")
    r = client.post("/signout", headers={**cookie, **SIBLING, "accept": "text/html"},
                    data={"csrf_token": "x" * 43})
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    assert "trang web khác" in r.text


def test_the_cookie_without_any_origin_is_refused_but_a_bearer_token_is_not(
    client: TestClient, app: Any, meeting_id: int
) -> None:
    token = sign_in(client, "thuky")
    refused = upload(client, meeting_id, {"cookie": f"ecabinet_session={token}"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    # The Python client: a bearer token, no Origin (also with a stray cookie).
    bearer = {"authorization": f"Bearer {token}", "cookie": f"ecabinet_session={token}"}
    assert upload(client, meeting_id, bearer).status_code == 201
    # Signing in sends no credentials: nothing to forge.
    assert client.post("/api/auth/signin",
                       json={"username": "daibieu1", "password": PASSWORD}).status_code == 200


def test_safe_methods_are_not_checked(client: TestClient, meeting_id: int) -> None:
    cookie = cookie_of(client, "daibieu1")
    assert client.get("/api/me", headers={**cookie, **CROSS}).status_code == 200


# --- __Host- cookies --------------------------------------------------------------------------


@pytest.fixture
def secure_app(tmp_path: Path) -> Iterator[Any]:
    application = create_app(make_settings(tmp_path / "secure", secure_cookies=True))
    application.runtime.db.run_sync(accounts.create_user, "daibieu1", PASSWORD, "Đại biểu")
    yield application
    application.runtime.db.close()


def test_secure_cookies_are_host_prefixed_and_only_those_are_read(secure_app: Any) -> None:
    origin = {"origin": "https://testserver", "sec-fetch-site": "same-origin"}
    with TestClient(secure_app, base_url="https://testserver") as browser:
        page = browser.get("/signin")
        csrf_header = page.headers["set-cookie"]
        assert csrf_header.startswith("__Host-ecabinet_csrf=")
        assert "secure" in csrf_header.lower() and "path=/" in csrf_header.lower()
        assert "domain" not in csrf_header.lower()
        csrf = browser.cookies["__Host-ecabinet_csrf"]
        form = {"username": "daibieu1", "password": PASSWORD, "csrf_token": csrf, "next": "/"}
        signed_in = browser.post("/signin", data=form, headers=origin, follow_redirects=False)
        assert signed_in.status_code == 303
        session = signed_in.headers["set-cookie"]
        assert session.startswith("__Host-ecabinet_session=")
        assert "secure" in session.lower() and "path=/" in session.lower()
        assert "domain" not in session.lower()
        token = browser.cookies["__Host-ecabinet_session"]
        assert browser.get("/api/me").status_code == 200
        browser.cookies.clear()
        # The unprefixed name is what a sibling subdomain could set: not read at all.
        r = browser.get("/api/me", headers={"cookie": f"ecabinet_session={token}"})
        assert r.status_code == 401
        # Signing out removes the cookie with the attributes browsers require for __Host-.
        out = browser.post("/api/auth/signout",
                           headers={**origin, "cookie": f"__Host-ecabinet_session={token}"})
        cleared = out.headers["set-cookie"].lower()
        assert cleared.startswith("__host-ecabinet_session=") and "secure" in cleared
        assert "path=/" in cleared and "max-age=0" in cleared


# --- forwarded headers --------------------------------------------------------------------------


def scope_from(peer: str, *headers: tuple[str, str]) -> dict[str, Any]:
    return {"type": "http", "scheme": "http", "client": (peer, 40000),
            "headers": [(b"host", b"ecabinet.internal:8000"),
                        *((k.encode(), v.encode()) for k, v in headers)]}


def through(proxies: str, scope: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(s: Any, _r: Any, _s: Any) -> None:
        seen.update(s)

    import anyio

    anyio.run(TrustedProxies(app, parse_networks(proxies)), scope, None, None)
    return seen


FORWARDED = (("x-forwarded-for", "203.0.113.9, 10.1.1.1"), ("x-forwarded-proto", "https"),
             ("x-forwarded-host", "ecabinet.example.vn"))


def test_forwarded_headers_from_anyone_else_are_ignored_and_removed() -> None:
    seen = through("", scope_from("10.1.1.1", *FORWARDED))
    assert seen["client"] == ("10.1.1.1", 40000) and seen["scheme"] == "http"
    assert seen["headers"] == [(b"host", b"ecabinet.internal:8000")]
    assert not is_same_origin(seen, "https://ecabinet.example.vn")
    assert is_same_origin(seen, "http://ecabinet.internal:8000")
    # Naming other proxies does not make this peer one.
    seen = through("192.168.5.0/24", scope_from("10.1.1.1", *FORWARDED))
    assert seen["client"] == ("10.1.1.1", 40000)


def test_forwarded_headers_from_a_trusted_proxy_are_applied() -> None:
    seen = through("10.1.1.0/24, 127.0.0.1", scope_from("127.0.0.1", *FORWARDED))
    # The last address that is not a proxy of ours: the one before could be the client's lie.
    assert seen["client"] == ("203.0.113.9", 0)
    assert seen["scheme"] == "https"
    assert seen["headers"] == [(b"host", b"ecabinet.example.vn")]
    assert is_same_origin(seen, "https://ecabinet.example.vn")
    assert is_same_origin(seen, "https://ecabinet.example.vn:443")
    assert not is_same_origin(seen, "http://ecabinet.example.vn")
    assert not is_same_origin(seen, "https://evil.example.vn")


def test_bad_proxy_settings_are_a_clear_start_up_error(tmp_path: Path) -> None:
    from ecabinet.core.errors import ConfigError

    with pytest.raises(ConfigError, match="ECABINET_TRUSTED_PROXIES"):
        make_settings(tmp_path / "d", trusted_proxies="10.0.0.1, proxy.local").prepare()


def test_sign_in_limits_count_the_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    """Behind the proxy, a guesser is limited by its own address, not the proxy's (which would
    lock everyone out); a guesser talking to the server directly cannot pick its address."""
    application = create_app(make_settings(tmp_path / "d", trusted_proxies="10.9.9.9"))
    try:
        application.runtime.db.run_sync(accounts.create_user, "chutich", PASSWORD, "Chủ tịch")
        wrong = {"username": "chutich", "password": "sai-mat-khau"}
        right = {"username": "chutich", "password": PASSWORD}
        proxy = TestClient(application, base_url=SITE, client=("10.9.9.9", 5000))
        for _ in range(5):
            assert proxy.post("/api/auth/signin", json=wrong,
                              headers={"x-forwarded-for": "203.0.113.66"}).status_code == 401
        assert proxy.post("/api/auth/signin", json=right,
                          headers={"x-forwarded-for": "203.0.113.66"}).status_code == 429
        assert proxy.post("/api/auth/signin", json=right,
                          headers={"x-forwarded-for": "203.0.113.5"}).status_code == 200
        direct = TestClient(application, base_url=SITE, client=("203.0.113.77", 5000))
        for n in range(5):
            assert direct.post("/api/auth/signin", json=wrong,
                               headers={"x-forwarded-for": f"198.51.100.{n}"}).status_code == 401
        assert direct.post("/api/auth/signin", json=right,
                           headers={"x-forwarded-for": "198.51.100.99"}).status_code == 429
    finally:
        application.runtime.db.close()
