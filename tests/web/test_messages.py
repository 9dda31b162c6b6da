"""Every text of the pages exists in Spanish and English, and templates ask only for known keys."""

from __future__ import annotations

import re
import string

from app.web import i18n
from app.web.kit import TEMPLATES

_ASKED = re.compile(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]""")


def test_every_text_has_both_languages_and_the_same_placeholders() -> None:
    found = i18n.messages()
    assert len(found) > 20
    for key, entry in found.items():
        assert set(entry) == {"en", "es"}, key
        assert entry["en"].strip() and entry["es"].strip(), key
        fields = {
            lang: {f for _, f, _, _ in string.Formatter().parse(text) if f}
            for lang, text in entry.items()
        }
        assert fields["en"] == fields["es"], f"{key}: placeholders differ {fields}"


def test_templates_ask_only_for_texts_that_exist() -> None:
    known = i18n.messages()
    asked = {
        key
        for path in TEMPLATES.rglob("*.html")
        for key in _ASKED.findall(path.read_text(encoding="utf-8"))
    }
    assert asked, "the pattern found no text at all: it is broken"
    # t('status.' ~ value): a family of keys; at least one must exist under the prefix
    families = {k for k in asked if k.endswith(".")}
    assert sorted(f for f in families if not any(k.startswith(f) for k in known)) == []
    assert sorted(asked - families - set(known)) == []


def test_numbers_and_dates_are_written_for_the_language() -> None:
    from datetime import date

    assert i18n.day(date(2026, 12, 5), "es") == "5 de diciembre de 2026"
    assert i18n.day(date(2026, 12, 5), "en") == "5 December 2026"
    assert i18n.number(1234.56) == "1,234.6"
    assert i18n.number(-2.5, signed=True) == "−2.5"
    assert i18n.number(None) == "—"


def test_language_is_chosen_from_url_then_cookie_then_browser_then_spanish() -> None:
    assert i18n.pick_lang("en", "es", "es-MX") == "en"
    assert i18n.pick_lang(None, "en", "es-MX") == "en"
    assert i18n.pick_lang(None, None, "fr-FR,en;q=0.8") == "en"
    assert i18n.pick_lang(None, None, "fr-FR") == "es"
    assert i18n.pick_lang("xx", None, None) == "es"
