"""The pages use the Noto Sans shipped with the web client (its npm package, served by ecabinet),
not whatever font the device has: Vietnamese looks the same on kiosk PCs and bare tablets.

The CI machine also has Noto Sans installed as a system font, so a family name alone would not
tell the two apart: the tests ask the font set which faces it loaded, the network which files it
fetched, and Chromium (through the DevTools protocol) which font it drew Vietnamese text with.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

FAMILY = "Noto Sans Variable"
FONT_FILES = (
    "/static/vendor/noto-sans/files/noto-sans-latin-wght-normal.woff2",
    "/static/vendor/noto-sans/files/noto-sans-vietnamese-wght-normal.woff2",
)

LOADED_FACES = (
    """() => document.fonts.ready.then(() => [...document.fonts]
  .filter((face) => face.family.replace(/["']/g, "") === "FAMILY" && face.status === "loaded")
  .map((face) => face.unicodeRange))""".replace("FAMILY", FAMILY)
)


def covers(unicode_range: str, char: str) -> bool:
    """Whether a face's ``unicodeRange`` (as the browser writes it: ``U+0-FF, U+131``) holds
    ``char``."""
    for part in unicode_range.replace(" ", "").split(","):
        first, _, last = part.removeprefix("U+").partition("-")
        if int(first, 16) <= ord(char) <= int(last or first, 16):
            return True
    return False


def used_fonts(page: Any, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium drew the text of ``selector`` with (family, web font or not)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, selector
        fonts: list[dict[str, Any]] = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})[
            "fonts"
        ]
        return fonts
    finally:
        cdp.detach()


def check_shipped_font(page: Any, selector: str) -> None:
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith(f'"{FAMILY}"'), family
    ranges = page.evaluate(LOADED_FACES)
    for char in "aệưđ":  # the Latin part and the Vietnamese one, both loaded
        assert any(covers(r, char) for r in ranges), (char, ranges)
    assert page.evaluate(f"document.fonts.check('16px \"{FAMILY}\"', 'Tiếng Việt')") is True
    fetched = page.evaluate(
        "performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)"
    )
    assert set(FONT_FILES) <= set(fetched), fetched
    text = page.locator(selector).first.inner_text()
    assert any(ord(ch) > 0x1EA0 for ch in text), text  # the element shows Vietnamese letters
    drawn = used_fonts(page, selector)
    assert drawn and all(f["isCustomFont"] for f in drawn), drawn
    assert all(f["familyName"].startswith("Noto Sans") for f in drawn), drawn


def test_every_face_draws_vietnamese_with_the_shipped_font(
    new_tablet: Any, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    faces = [
        ("daibieu1", f"/meetings/{meeting_id}", ".agenda-item .item-title"),
        ("chutich", f"/meetings/{meeting_id}/chair", ".agenda-item .item-title"),
        ("thuky", f"/manage/meetings/{meeting_id}", "#docs-heading"),
        ("thuky", "/", "h1"),
    ]
    for username, path, selector in faces:
        page = new_tablet(username, path)
        page.locator(selector).first.wait_for()
        check_shipped_font(page, selector)


def test_the_sign_in_page_uses_the_shipped_font_before_anyone_signs_in(
    browser: Any, live_server: Any
) -> None:
    context = browser.new_context(base_url=live_server.url, locale="vi-VN",
                                  service_workers="block")
    try:
        page = context.new_page()
        page.goto("/signin")
        check_shipped_font(page, "label[for=username]")
    finally:
        context.close()
