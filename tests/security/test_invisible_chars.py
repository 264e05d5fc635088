"""Invisible characters: zero-width, bidirectional overrides (Trojan Source), controls. Refused
the same way wherever text comes in (import, template files, slot edits via
textsafety.check_plain_text); and a rule still sees through them in generated text."""

from __future__ import annotations

import re

import pytest

from review.audiences import parse_csv
from review.brands import BrandPolicy
from review.errors import AudienceImportError, TemplateError, WorkflowError
from review.fields import FieldSpec
from review.templates import parse_template
from review.textsafety import UnsafeText, check_plain_text, find_unsafe

INVISIBLE = {
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
    "\u2060": "WORD JOINER",
    "\u2061": "FUNCTION APPLICATION",
    "\u2063": "INVISIBLE SEPARATOR",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
    "\u00ad": "SOFT HYPHEN",
    "\u180e": "MONGOLIAN VOWEL SEPARATOR",
    "\u3164": "HANGUL FILLER",
    "\u115f": "HANGUL CHOSEONG FILLER",
    "\u034f": "COMBINING GRAPHEME JOINER",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
    "\U000e0041": "TAG LATIN CAPITAL LETTER A",  # "ASCII smuggling" tag characters
    "\ue000": "control character",  # private use: unnamed
    "\x00": "control character",
    "\x07": "control character",
    "\x1b": "control character",
    "\x7f": "control character",
    "\x85": "control character",
    "\x9b": "control character",
}
VISIBLE = ["Zoë", "José Núñez", "Łódź", "Ærøskøbing", "北京", "محمد", "שלום", "Ἀθῆναι", "🙂 thanks", "Tab\there", "two\nlines"]


@pytest.mark.parametrize("ch", list(INVISIBLE))
def test_slot_edits_refuse_them_naming_the_character(ch: str) -> None:
    with pytest.raises(UnsafeText) as e:
        check_plain_text(f"Save 10%{ch} today", "slot 'opening'")
    assert isinstance(e.value, WorkflowError)
    assert str(e.value).startswith(f"slot 'opening': contains U+{ord(ch):04X} {INVISIBLE[ch]} at character 9")


@pytest.mark.parametrize("text", VISIBLE)
def test_ordinary_text_in_any_script_passes(text: str) -> None:
    check_plain_text(text, "slot")
    assert find_unsafe(text) is None


@pytest.mark.parametrize("ch", list(INVISIBLE))
def test_import_refuses_them_with_line_and_column(ch: str) -> None:
    policy = BrandPolicy(slug="l", name="L", industry="x", allowed_fields=("first_name",), fields=(FieldSpec("first_name", "name", 40),))
    with pytest.raises(AudienceImportError) as e:
        parse_csv(f"id,first_name,personalization_consent\n1,Ann,yes\n2,An{ch}n,yes\n", policy)
    assert len(e.value.problems) == 1 and e.value.problems[0][0] == 3
    assert e.value.problems[0][1].startswith("'first_name' (column 2) "), e.value.problems


@pytest.mark.parametrize("ch", ["\u202e", "\u200b", "\u2066", "\x1b"])
def test_template_files_refuse_them_with_the_line(ch: str) -> None:
    src = f"---\nname: T\nslots: {{}}\n---\nDear customer,\nYour cover is{ch} fine.\n"
    with pytest.raises(TemplateError) as e:
        parse_template(src, name="t.j2")
    assert e.value.line == 6 and f"U+{ord(ch):04X}" in e.value.reason


def test_trojan_source_in_generated_text_is_still_matched_by_rules(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from review.guidelines.testing import brand, matches

    rs = brand(tmp_path, {"rules/r.yaml": "extends: existence\ntokens: [risk-free]\n"})
    assert matches(rs, "A r\u200bisk\u202e-free plan.") == ["r\u200bisk\u202e-free"]


def test_slot_edits_are_checked_slot_by_slot() -> None:
    from review.textsafety import check_slot_texts

    check_slot_texts({"opening": "Thank you for 5 years.", "tip": "Keep photos\tsafe.\n"})
    with pytest.raises(UnsafeText, match=re.escape("slot 'tip': contains U+202E RIGHT-TO-LEFT OVERRIDE at character 5,")):
        check_slot_texts({"opening": "Fine.", "tip": "Keep\u202e photos safe."})
