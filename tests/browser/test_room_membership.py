"""A tablet whose user's place in the meeting changes while the room page is open."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import api_token
from tests.waiting import wait_until

pytestmark = pytest.mark.browser
SECRET_TITLE = "Nhân sự lãnh đạo"
# The meeting's state this tablet keeps for offline reading (room.js), or null.
KEPT = """async (key) => {
  const db = await new Promise((ok, fail) => {
    const req = indexedDB.open("ecabinet");
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
  if (!db.objectStoreNames.contains("kv")) return null;
  return await new Promise((ok) => {
    const req = db.transaction("kv").objectStore("kv").get(key);
    req.onsuccess = () => ok(req.result === undefined ? null : req.result);
    req.onerror = () => ok(null);
  });
}"""


def participants(base_url: str, meeting_id: int, token: str) -> dict[str, dict[str, Any]]:
    r = httpx.get(f"{base_url}/api/meetings/{meeting_id}/participants",
                  headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return {p["username"]: p for p in r.json()["participants"]}


def test_a_demoted_tablet_shows_the_observers_meeting_and_a_removed_one_leaves_it(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    token = api_token(live_server.url, "thuky")
    people = participants(live_server.url, meeting_id, token)
    kept_key = f"room:{people['daibieu2']['user_id']}:{meeting_id}"
    demoted = new_tablet("daibieu1", f"/meetings/{meeting_id}")
    removed = new_tablet("daibieu2", f"/meetings/{meeting_id}")
    for page in (demoted, removed):
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        expect(page.locator("#agenda-list")).to_contain_text(SECRET_TITLE)

    url = f"{live_server.url}/api/meetings/{meeting_id}/participants"
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.patch(f"{url}/{people['daibieu1']['id']}", json={"role": "observer"},
                    headers=headers)
    assert r.status_code == 200, r.text
    # The tablet starts again from the meeting as an observer sees it, without a reload.
    expect(demoted.locator("#agenda-list")).not_to_contain_text(SECRET_TITLE)
    expect(demoted.locator("#conn")).to_have_attribute("data-state", "live")

    wait_until(lambda: removed.evaluate(KEPT, kept_key), "the tablet keeps the meeting")
    r = httpx.delete(f"{url}/{people['daibieu2']['id']}", headers=headers)
    assert r.status_code == 200, r.text
    # No longer a participant: the tablet forgets the meeting and goes back to the list.
    removed.wait_for_url(f"{live_server.url}/")
    assert removed.evaluate(KEPT, kept_key) is None
