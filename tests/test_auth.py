from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import PASSWORD, sign_in


def test_json_sign_in_returns_a_token_that_identifies_the_user(
    client: TestClient, make_user: Any
) -> None:
    make_user("daibieu1", "Lê Hoàng Minh")
    token = sign_in(client, "DaiBieu1")
    me = client.get("/api/me", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["user"]["full_name"] == "Lê Hoàng Minh"


def test_wrong_password_and_unknown_user_get_the_same_generic_answer(
    client: TestClient, make_user: Any
) -> None:
    make_user("daibieu1")
    wrong = client.post("/api/auth/signin", json={"username": "daibieu1", "password": "nope-nope"})
    unknown = client.post("/api/auth/signin", json={"username": "ai-do", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "bad_credentials"


def test_failed_sign_ins_are_rate_limited_per_account(client: TestClient, make_user: Any) -> None:
    make_user("daibieu1")
    for _ in range(5):
        r = client.post(
            "/api/auth/signin", json={"username": "daibieu1", "password": "sai-sai-sai"}
        )
        assert r.status_code == 401
    limited = client.post("/api/auth/signin", json={"username": "daibieu1", "password": PASSWORD})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "signin_rate_limited"
    assert int(limited.headers["retry-after"]) > 0


def test_bad_payloads_get_stable_codes(client: TestClient) -> None:
    assert client.post("/api/auth/signin", json={"username": "x"}).json()["error"]["code"] == (
        "invalid_payload"
    )
    r = client.post(
        "/api/auth/signin", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = client.post("/api/auth/signin", data={"username": "a", "password": "b"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "json_required"


def test_sign_out_revokes_the_session(client: TestClient, make_user: Any) -> None:
    make_user("daibieu1")
    token = sign_in(client, "daibieu1")
    auth = {"authorization": f"Bearer {token}"}
    assert client.post("/api/auth/signout", headers=auth).status_code == 200
    r = client.get("/api/me", headers=auth)
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"


def test_sign_out_everywhere_ends_every_session_of_the_user(
    client: TestClient, make_user: Any
) -> None:
    make_user("daibieu1")
    make_user("daibieu2")
    tablet, laptop = sign_in(client, "daibieu1"), sign_in(client, "daibieu1")
    other = sign_in(client, "daibieu2")
    r = client.post("/api/auth/signout-all", headers={"authorization": f"Bearer {tablet}"})
    assert r.json()["sessions_ended"] == 2
    for token in (tablet, laptop):
        assert (
            client.get("/api/me", headers={"authorization": f"Bearer {token}"}).status_code == 401
        )
    assert client.get("/api/me", headers={"authorization": f"Bearer {other}"}).status_code == 200


def test_browser_sign_in_form_needs_the_csrf_token_and_sets_a_safe_cookie(
    client: TestClient, make_user: Any
) -> None:
    make_user("daibieu1", "Lê Hoàng Minh")
    page = client.get("/signin?next=/somewhere")
    assert page.status_code == 200 and "Đăng nhập" in page.text
    csrf = client.cookies["ecabinet_csrf"]
    form = {"username": "daibieu1", "password": PASSWORD, "next": "/"}
    refused = client.post("/signin", data=form, follow_redirects=False)
    assert refused.status_code == 403
    ok = client.post("/signin", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    home = client.get("/")
    assert "Lê Hoàng Minh" in home.text and "Cuộc họp của tôi" in home.text


def test_wrong_password_in_the_form_shows_a_message_not_a_crash(
    client: TestClient, make_user: Any
) -> None:
    make_user("daibieu1")
    client.get("/signin")
    r = client.post(
        "/signin",
        data={
            "username": "daibieu1",
            "password": "sai-sai-sai",
            "csrf_token": client.cookies["ecabinet_csrf"],
        },
    )
    assert r.status_code == 401
    assert "không đúng" in r.text


def test_redirect_after_sign_in_never_leaves_the_site(client: TestClient, make_user: Any) -> None:
    make_user("daibieu1")
    client.get("/signin")
    r = client.post(
        "/signin",
        data={
            "username": "daibieu1",
            "password": PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": client.cookies["ecabinet_csrf"],
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_pages_carry_security_headers(client: TestClient) -> None:
    r = client.get("/signin")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"


def test_anonymous_home_redirects_to_sign_in(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert client.get("/api/meetings").status_code == 401
