"""A small catalog-based translation layer for the browser pages.

Catalogs are flat JSON files (``clients/web/i18n/<locale>.json``: key → text with ``{name}``
placeholders). Templates call ``t("key", name=...)``; the scripts get the same catalog as a JSON
block and use the same keys, so one file per language holds every string people read.
Vietnamese is the default and the fallback for a key a catalog lacks.

The locale of a request: an explicit ``?lang=`` switch, else the ``ecabinet_lang`` cookie (set by
the language switch), else the signed-in user's setting, else Vietnamese (``choose``; the web
adapter reads those from the request and hands ``install`` its reader).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from ecabinet.core.text import nfc

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LANG_COOKIE = "ecabinet_lang"
# BCP 47 tags for Intl in the browser and the ``lang`` attribute.
LANGUAGE_TAGS = {"vi": "vi-VN", "en": "en-GB"}
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


class Catalogs:
    """Every locale's strings, read once from a folder of ``<locale>.json`` files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.strings: dict[str, dict[str, str]] = {}
        for locale in LOCALES:
            path = folder / f"{locale}.json"
            data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            self.strings[locale] = {
                str(k): nfc(str(v)) for k, v in data.items()
            }

    def text(self, locale: str, key: str, **values: Any) -> str:
        """The string for ``key`` in ``locale`` (Vietnamese, then the key itself, as fallbacks)."""
        raw = self.strings.get(locale, {}).get(key)
        if raw is None:
            raw = self.strings[DEFAULT_LOCALE].get(key, key)
        if not values:
            return raw
        try:
            return raw.format_map(values)
        except (KeyError, IndexError, ValueError):
            return raw

    def bundle(self, locale: str) -> dict[str, str]:
        """The whole catalog for the scripts: Vietnamese keys filled in where one is missing."""
        merged = dict(self.strings[DEFAULT_LOCALE])
        merged.update(self.strings.get(locale, {}))
        return merged


@cache
def catalogs_for(folder: Path) -> Catalogs:
    return Catalogs(folder)


def normalise(value: str | None) -> str | None:
    if not value:
        return None
    short = value.strip().lower().replace("_", "-").split("-")[0]
    return short if short in LOCALES else None


def choose(*candidates: str | None) -> str:
    """The first of ``candidates`` that names a locale we have (most explicit first), else
    Vietnamese."""
    for candidate in candidates:
        locale = normalise(candidate)
        if locale:
            return locale
    return DEFAULT_LOCALE


def install(
    env: Environment, folder: Path, request_locale: Callable[[Any], str] | None = None
) -> Catalogs:
    """Make ``t()``, ``locale``-aware helpers and the catalogs available to every template.

    A template rendered without an explicit ``locale`` takes the one ``request_locale`` gives
    for its ``request`` (Vietnamese without either).
    """
    catalogs = catalogs_for(folder)

    def _locale(ctx: Context) -> str:
        explicit = ctx.get("locale")
        if isinstance(explicit, str) and explicit in LOCALES:
            return explicit
        request = ctx.get("request")
        if request is None or request_locale is None:
            return DEFAULT_LOCALE
        return request_locale(request)

    @pass_context
    def t(ctx: Context, key: str, **values: Any) -> str:
        return catalogs.text(_locale(ctx), key, **values)

    @pass_context
    def current_locale(ctx: Context) -> str:
        return _locale(ctx)

    @pass_context
    def language_tag(ctx: Context) -> str:
        return LANGUAGE_TAGS[_locale(ctx)]

    @pass_context
    def i18n_bundle(ctx: Context) -> dict[str, Any]:
        locale = _locale(ctx)
        return {
            "locale": locale,
            "tag": LANGUAGE_TAGS[locale],
            "timezone": ctx.get("timezone"),
            "strings": catalogs.bundle(locale),
        }

    env.globals.update(
        t=t,
        current_locale=current_locale,
        language_tag=language_tag,
        i18n_bundle=i18n_bundle,
        locales=LOCALES,
        language_names=LANGUAGE_NAMES,
    )
    return catalogs
