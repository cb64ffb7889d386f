"""The pages without a browser: who may open which face, the language switch, the catalogs, the
service worker, and markup that the Content-Security-Policy allows (no inline code or styles)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from ecabinet.domain.roles import MeetingRole, MeetingStatus
from ecabinet.storage.models import User
from tests.conftest import PASSWORD

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"


def browser_sign_in(client: TestClient, username: str) -> None:
    page = client.get("/signin")
    token = page.cookies.get("ecabinet_csrf") or client.cookies.get("ecabinet_csrf")
    answer = client.post(
        "/signin",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


class Markup(HTMLParser):
    """Collects what the CSP forbids: inline scripts, inline handlers, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.json_blocks: dict[str, str] = {}
        self._json_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name in names:
            if name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}=...>")
        if tag == "script":
            kind = names.get("type") or "text/javascript"
            if "src" not in names and kind != "application/json":
                self.problems.append("inline <script>")
            self._json_id = names.get("id") if kind == "application/json" else None
        if tag == "style":
            self.problems.append("<style> element")

    def handle_data(self, data: str) -> None:
        if self._json_id:
            self.json_blocks[self._json_id] = data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._json_id = None


def check_markup(html: str) -> Markup:
    parser = Markup()
    parser.feed(html)
    assert parser.problems == []
    return parser


def test_every_face_is_allowed_markup_and_carries_its_data(
    client: TestClient, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    browser_sign_in(client, "chutich")
    for path in ("/", f"/meetings/{meeting_id}", f"/meetings/{meeting_id}/chair", "/manage",
                 f"/manage/meetings/{meeting_id}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "private, no-cache"
        markup = check_markup(response.text)
        strings = json.loads(markup.json_blocks["i18n-data"])
        assert strings["locale"] == "vi" and strings["timezone"] == "Asia/Ho_Chi_Minh"
    page = client.get(f"/meetings/{meeting_id}/chair")
    data = json.loads(check_markup(page.text).json_blocks["page-data"])
    assert data["meeting_id"] == meeting_id and data["face"] == "chair" and data["role"] == "chair"


def test_who_may_open_which_face(client: TestClient, room: dict[str, Any]) -> None:
    meeting_id = room["meeting_id"]
    anonymous = client.get(f"/meetings/{meeting_id}", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/signin?next=/meetings/{meeting_id}"

    browser_sign_in(client, "daibieu1")
    assert client.get(f"/meetings/{meeting_id}").status_code == 200
    console = client.get(f"/meetings/{meeting_id}/chair", headers={"accept": "text/html"})
    assert console.status_code == 403 and "forbidden_role" in console.text
    prepare = client.get(f"/manage/meetings/{meeting_id}", headers={"accept": "text/html"})
    assert prepare.status_code == 403
    assert client.get("/meetings/999999", headers={"accept": "text/html"}).status_code == 404

    client.cookies.clear()
    browser_sign_in(client, "nguoingoai")  # not a participant: learns nothing
    outsider = client.get(f"/meetings/{meeting_id}", headers={"accept": "text/html"})
    assert outsider.status_code == 404 and "meeting_not_found" in outsider.text

    client.cookies.clear()
    browser_sign_in(client, "thuky")
    assert client.get(f"/meetings/{meeting_id}/chair").status_code == 200
    assert client.get(f"/manage/meetings/{meeting_id}").status_code == 200


def test_a_draft_is_hidden_from_delegates_but_not_from_its_secretary(
    client: TestClient, app: Any
) -> None:
    from tests.conftest import create_room

    meeting_id = app.runtime.db.run_sync(create_room, MeetingStatus.DRAFT.value)["meeting_id"]
    browser_sign_in(client, "daibieu1")
    assert client.get(f"/meetings/{meeting_id}", headers={"accept": "text/html"}).status_code == 404
    client.cookies.clear()
    browser_sign_in(client, "thuky")
    assert client.get(f"/manage/meetings/{meeting_id}").status_code == 200


def test_the_language_switch_needs_its_token_and_follows_the_account(
    client: TestClient, room: dict[str, Any], app: Any
) -> None:
    browser_sign_in(client, "daibieu1")
    home = client.get("/")
    assert "Cuộc họp của tôi" in home.text and '<html lang="vi">' in home.text
    token = client.cookies.get("ecabinet_csrf")

    # A browser says which page a form comes from (this site's own here).
    own = {"origin": "http://testserver"}
    refused = client.post("/locale", data={"locale": "en", "next": "/"},
                          headers={"accept": "text/html", **own}, follow_redirects=False)
    assert refused.status_code == 403

    switched = client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": token},
                           headers=own, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/"
    assert client.cookies.get("ecabinet_lang") == "en"
    english = client.get("/")
    assert "My meetings" in english.text and '<html lang="en">' in english.text

    def locale_of(session: Any) -> str:
        from sqlmodel import select

        user = session.exec(select(User).where(User.username == "daibieu1")).one()
        return str(user.locale)

    assert app.runtime.db.run_sync(locale_of) == "en"
    # A new browser without the cookie gets the account's language.
    client.cookies.clear()
    browser_sign_in(client, "daibieu1")
    assert "My meetings" in client.get("/").text
    # An explicit ?lang= wins for that page; an unknown one falls back.
    assert "Cuộc họp của tôi" in client.get("/?lang=vi").text
    assert "My meetings" in client.get("/?lang=xx").text
    # Off-site targets are never followed.
    away = client.post("/locale", data={"locale": "vi", "next": "//evil.example/",
                                        "csrf_token": client.cookies.get("ecabinet_csrf")},
                       headers=own, follow_redirects=False)
    assert away.headers["location"] == "/"


def test_the_sign_in_page_speaks_the_chosen_language(client: TestClient) -> None:
    assert "Tên đăng nhập" in client.get("/signin").text
    assert "Username" in client.get("/signin?lang=en").text


def test_the_service_worker_is_served_for_the_whole_site(client: TestClient) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/"
    assert response.headers["cache-control"] == "no-cache"
    # Every file it precaches exists.
    listed = re.findall(r'"(/static/[^"]+)"', response.text)
    assert listed
    for path in listed:
        assert client.get(path).status_code == 200, path


# --- the catalogs -------------------------------------------------------------------------

CALL = re.compile(r"""(?<![\w.])t\(\s*["']([a-z0-9_.]+)["']""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("static/js/*.js")]:
        keys.update(CALL.findall(path.read_text(encoding="utf-8")))
    # Prefixes completed at run time ("status." + value) are checked per value below.
    return {k for k in keys if not k.endswith((".", "_"))}


def catalog(locale: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WEB / "i18n" / f"{locale}.json").read_text("utf-8"))
    return data


def test_both_catalogs_have_the_same_keys_and_placeholders() -> None:
    vi, en = catalog("vi"), catalog("en")
    assert set(vi) == set(en)
    for key in vi:
        assert set(re.findall(r"\{(\w+)\}", vi[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_string_the_pages_use_is_in_the_catalogs() -> None:
    vi = catalog("vi")
    missing = sorted(used_keys() - set(vi))
    assert missing == []
    families = {
        "status.": [s.value for s in MeetingStatus],
        "role.": [r.value for r in MeetingRole],
        "conn.": ["connecting", "live", "reconnecting", "offline"],
        "home.group.": ["in_session", "upcoming", "past"],
        "face.": ["tablet", "chair"],
        "agenda.help_": ["tablet", "chair"],
        "vote.outcome.": ["passed", "rejected", "tie", "no_quorum"],
        "vote.option.": ["yes", "no", "abstain"],
        "polls.status.": ["draft", "open", "closed", "published", "cancelled"],
        "attendance.short.": ["present", "absent", "excused"],
        "attendance.status.": ["present", "absent", "excused"],
        "speakers.": ["request", "withdraw", "end"],
    }
    for prefix, values in families.items():
        for value in values:
            assert f"{prefix}{value}" in vi, f"{prefix}{value}"


def test_majority_labels_cover_the_rules() -> None:
    from ecabinet.domain.procedure import Majority

    vi = catalog("vi")
    assert all(f"majority.{m.value}" in vi for m in Majority)


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_catalog_text_is_nfc(locale: str) -> None:
    import unicodedata

    for key, text in catalog(locale).items():
        assert unicodedata.normalize("NFC", text) == text, key


def test_the_tablet_applies_every_event_the_server_declares() -> None:
    """An event without a reducer makes tablets fetch a whole snapshot: declare one for each."""
    from ecabinet.protocol import REGISTRY
    from ecabinet.services.kernel import features

    features.load()
    scripts = "".join(p.read_text("utf-8") for p in (WEB / "static" / "js").glob("*.js"))
    # A reducer is a method (`"type"(s, p) {`) or a shared function (`"type": saved,`).
    handled = set(
        re.findall(r'^\s*"([a-z_]+(?:\.[a-z_]+)+)"\s*(?:\(|:\s*[A-Za-z_]+,)', scripts,
                   flags=re.MULTILINE)
    )
    assert sorted(set(REGISTRY.events) - handled) == []
