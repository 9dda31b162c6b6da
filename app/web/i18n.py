"""Words on the pages in English and Spanish, and numbers and dates written for each language.

Every text lives in ``messages/*.yaml`` as ``key: {en: …, es: …}``; a test checks that both are
there for every key and that every key a template asks for exists. Spanish comes first: most users
are in Mexico, where numbers are written 1,234.5 as in English, and dates "5 de diciembre de 2026".
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

Lang = Literal["es", "en"]
LANGS: tuple[Lang, ...] = ("es", "en")
DEFAULT_LANG: Lang = "es"

_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
}


MESSAGES = Path(__file__).parent / "messages"


@cache
def messages() -> dict[str, dict[str, str]]:
    """Every text, from ``messages/*.yaml`` (one file per part of the site; a key lives once)."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(MESSAGES.glob("*.yaml")):
        part: dict[str, dict[str, str]] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        twice = sorted(set(part) & set(found))
        if twice:
            raise ValueError(f"{path.name}: texts defined in another file too: {twice}")
        found.update(part)
    return found


def pick_lang(query: str | None, cookie: str | None, accept_language: str | None) -> Lang:
    """The language asked in the URL, else the one chosen before, else the browser's first of
    Spanish or English, else Spanish."""
    for value in (query, cookie):
        if value in LANGS:
            return value
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return DEFAULT_LANG


def translate(lang: Lang, key: str, **values: Any) -> str:
    entry = messages().get(key)
    if entry is None:
        raise KeyError(f"no text '{key}' in app/web/messages/")
    text = entry[lang]
    return text.format(**values) if values else text


def number(value: float | int | None, digits: int = 1, *, signed: bool = False) -> str:
    """1,234.5 in both languages (as written in Mexico and the United States); a dash for none."""
    if value is None:
        return "—"
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    return text.replace("-", "−")  # a true minus sign reads better in tables


def day(value: date | datetime | None, lang: Lang) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.date()
    month = _MONTHS[lang][value.month - 1]
    if lang == "es":
        return f"{value.day} de {month} de {value.year}"
    return f"{value.day} {month} {value.year}"


def localized(text: Any, lang: Lang) -> str:
    """An instrument's text (``Text``, an {en, es} mapping, or a plain string) in ``lang``."""
    if hasattr(text, "get") and not isinstance(text, dict):
        return str(text.get(lang))
    if isinstance(text, dict):
        return str(text.get(lang) or text.get("en") or next(iter(text.values()), ""))
    return "" if text is None else str(text)
