"""The reader's language, as the request tells it (the catalogs are ``ecabinet.core.i18n``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ecabinet.core import i18n


def locale_of(request: Request, user_locale: str | None = None) -> str:
    """Explicit switch (``?lang=``), then the language cookie, then the user's setting, then
    Vietnamese."""
    return i18n.choose(
        request.query_params.get("lang"), request.cookies.get(i18n.LANG_COOKIE), user_locale
    )


def request_locale(request: Any) -> str:
    """The locale a page handler chose for this request, or the one the request asks for
    (templates rendered without a page handler: the sign-in page, error pages)."""
    if not isinstance(request, Request):
        return i18n.DEFAULT_LOCALE
    chosen = getattr(request.state, "locale", None)
    if isinstance(chosen, str) and chosen in i18n.LOCALES:
        return chosen
    return locale_of(request)
