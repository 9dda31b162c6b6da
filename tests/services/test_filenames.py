"""The one file-name rule of every download, against names people (or attackers) type."""

from __future__ import annotations

import re
import unicodedata

import pytest

from app.services.filenames import MAX_STEM, safe_filename

# (parts, what the name must be, and its plain-ASCII spelling)
CASES: list[tuple[tuple[str, ...], str, str]] = [
    (("oca", "baseline", "Acme, Inc."), "oca-baseline-Acme_Inc.xlsx", "oca-baseline-Acme_Inc.xlsx"),
    (("oca", "", "x"), "oca-x.xlsx", "oca-x.xlsx"),  # empty parts are skipped
    (("../../etc/passwd",), "etc_passwd.xlsx", "etc_passwd.xlsx"),
    (("..\\..\\windows\\system32",), "windows_system32.xlsx", "windows_system32.xlsx"),
    (("/abs/path",), "abs_path.xlsx", "abs_path.xlsx"),
    ((".hidden",), "hidden.xlsx", "hidden.xlsx"),
    (("..",), "download.xlsx", "download.xlsx"),
    (("",), "download.xlsx", "download.xlsx"),
    (("a\x00b\r\nc\td\x1be\x7f",), "a_b_c_d_e.xlsx", "a_b_c_d_e.xlsx"),
    (('say "hi"; rm -rf',), "say_hi_rm_-rf.xlsx", "say_hi_rm_-rf.xlsx"),
    (("it's <b>&amp;</b>",), "it_s_b_amp_b.xlsx", "it_s_b_amp_b.xlsx"),
    (("-rf",), "rf.xlsx", "rf.xlsx"),  # nothing that reads as an option
    (("CON",), "CON_.xlsx", "CON_.xlsx"),  # a Windows device name
    (("Fundación Łódź · Œuvre",), "Fundación_Łódź_Œuvre.xlsx", "Fundacion_Lodz_OEuvre.xlsx"),
    (("Фонд «Київ»",), "Фонд_Київ.xlsx", "download.xlsx"),
    (("公民社会中心",), "公民社会中心.xlsx", "download.xlsx"),
    (("جمعية الأمل",), "جمعية_الأمل.xlsx", "download.xlsx"),
    (("evil\u202egpj.exe",), "evil_gpj.exe.xlsx", "evil_gpj.exe.xlsx"),  # right-to-left override
    (("zero\u200bwidth",), "zero_width.xlsx", "zero_width.xlsx"),
    (("a／b＼c",), "a_b_c.xlsx", "a_b_c.xlsx"),  # full-width slashes
]


@pytest.mark.parametrize(("parts", "name", "plain"), CASES, ids=[repr(c[0])[:30] for c in CASES])
def test_hostile_names_become_one_plain_file_name(
    parts: tuple[str, ...], name: str, plain: str
) -> None:
    assert safe_filename(*parts, ext="xlsx") == name
    assert safe_filename(*parts, ext="xlsx", ascii_only=True) == plain


def test_decomposed_accents_are_kept_as_letters() -> None:
    nfd = unicodedata.normalize("NFD", "Fundación")
    assert safe_filename(nfd, ext="csv") == "Fundación.csv"


@pytest.mark.parametrize("ascii_only", [False, True])
def test_a_very_long_name_is_cut_before_the_extension(ascii_only: bool) -> None:
    name = safe_filename("oca", "x" * 10_000, "é" * 500, ext="xlsx", ascii_only=ascii_only)
    assert name.endswith(".xlsx")
    assert len(name) == MAX_STEM + len(".xlsx")
    cut = safe_filename("a" * (MAX_STEM - 1) + "._rest", ext="csv", ascii_only=ascii_only)
    assert cut == "a" * (MAX_STEM - 1) + ".csv"  # no dot or "_" left dangling before ".csv"


def test_the_extension_keeps_only_letters_and_digits() -> None:
    assert safe_filename("x", ext="../x l\x00sx") == "x.xlsx"
    assert safe_filename("x") == "x"


@pytest.mark.parametrize(("parts", "name", "plain"), CASES, ids=[repr(c[0])[:30] for c in CASES])
def test_every_result_is_safe(parts: tuple[str, ...], name: str, plain: str) -> None:
    for result in (name, plain):
        stem, _, ext = result.rpartition(".")
        assert ext == "xlsx" and stem
        assert not stem.startswith((".", "-", "_")) and not stem.endswith(".")
        assert "/" not in result and "\\" not in result and ".." not in result
        assert all(c.isalnum() or c in "-_." for c in result)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", plain)
