"""Typed recipient fields: what a brand allows in each audience column, checked on import.

brand.yaml declares each field a message may use::

    personalization:
      fields:
        first_name: {type: name, max_length: 40}
        email: {type: email}
        policy_type: {type: enum, values: [home, motor, travel]}
        tenure_years: {type: integer, min: 0, max: 100}
        renewal_date: {type: date}

Types: name, text, email, phone, city, enum (with `values`), integer (with `min`/`max`), date
(YYYY-MM-DD). `max_length` defaults per type. The older `allowed_fields: [a, b]` still works:
each listed field is `text`.

Every non-empty value, whatever its type, must be one line, hold no invisible or control
character, no markup, and not start with a spreadsheet formula character (= + - @ tab CR;
a phone number may start with +, an integer with -). Names, cities and texts may not hold a
web address. An empty value is allowed (no consent needs no data); a template that uses the
field refuses recipients without it when the campaign is made.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from . import textsafety

TYPES = ("name", "text", "email", "phone", "city", "enum", "integer", "date")
DEFAULT_MAX_LENGTH = {"name": 60, "text": 200, "email": 254, "phone": 20, "city": 60, "enum": 60, "integer": 18, "date": 10}
MAX_LENGTH = 500  # the most any field may declare (the import's own cap)
FIELD_KEYS = {"type", "max_length", "values", "min", "max"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Internationalized addresses (RFC 6531) are addresses too: \w takes any script's letters.
_EMAIL = re.compile(r"[\w!#$%&'*+/=?^`{|}~.-]+@[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)+")
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{4,19}")
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MARKUP = re.compile(r"<\s*[a-zA-Z/!?]|&#?[a-zA-Z0-9]+;")
# A scheme, "www.", or two words joined by a dot with no space ("evil.example"): a web address,
# or a way to smuggle one into a message. "St. John" and "J.R." stay names.
_URL = re.compile(r"(?i)[a-z][a-z0-9+.-]*://|\bwww\.|[^\W\d_]{2,}\.[^\W\d_]{2,}")
_NAME_PUNCT = frozenset(" '’-.")
_CITY_PUNCT = frozenset(" '’-.,()")


def formula_start(value: str) -> str:
    """The first character as a spreadsheet may read it (NFKC: a fullwidth '＝' is '=')."""
    return unicodedata.normalize("NFKC", value[:1])[:1] if value else ""


@dataclass(frozen=True)
class FieldSpec:
    """One allowed recipient field and what its values may be."""

    name: str
    type: str = "text"
    max_length: int = DEFAULT_MAX_LENGTH["text"]
    values: tuple[str, ...] = ()  # enum
    min: int | None = None  # integer
    max: int | None = None

    def problem(self, value: str) -> str | None:
        """Why `value` is not acceptable for this field, or None. Empty values are acceptable."""
        if value == "":
            return None
        at = textsafety.find_unsafe(value, multiline=False)
        if at is not None:
            ch = value[at]
            if ch in "\r\n":
                return "must be a single line (it holds a line break)"
            return f"contains {textsafety.describe(ch)}, an invisible or control character"
        if len(value) > self.max_length:
            return f"is longer than {self.max_length} characters"
        first = formula_start(value)
        if first in FORMULA_START and not (self.type == "phone" and first == "+") and not (self.type == "integer" and first == "-"):
            return f"starts with '{first}', which spreadsheets read as a formula"
        if _MARKUP.search(value):
            return "contains markup (< or an &entity;)"
        check = getattr(self, f"_check_{self.type}")
        return check(value)

    def _no_url(self, value: str) -> str | None:
        return "contains a web address" if _URL.search(value) else None

    def _letters(self, value: str, punct: frozenset[str], digits: bool, what: str) -> str | None:
        for ch in value:
            cat = unicodedata.category(ch)
            if cat[0] in "LM" or ch in punct or (digits and cat == "Nd"):
                continue
            return f"is not a {what}: '{ch}' is not allowed"
        if not any(unicodedata.category(ch)[0] == "L" for ch in value):
            return f"is not a {what}: it has no letters"
        return self._no_url(value)

    def _check_name(self, value: str) -> str | None:
        return self._letters(value, _NAME_PUNCT, False, "name")

    def _check_city(self, value: str) -> str | None:
        return self._letters(value, _CITY_PUNCT, True, "city")

    def _check_text(self, value: str) -> str | None:
        return self._no_url(value)

    def _check_email(self, value: str) -> str | None:
        return None if _EMAIL.fullmatch(value) else "is not an e-mail address"

    def _check_phone(self, value: str) -> str | None:
        return None if _PHONE.fullmatch(value) else "is not a phone number (digits, spaces, ( ) - . and a leading +)"

    def _check_enum(self, value: str) -> str | None:
        if value in self.values:
            return None
        return f"must be one of {', '.join(self.values)}, not '{value}'"

    def _check_integer(self, value: str) -> str | None:
        if not _INTEGER.fullmatch(value):
            return "is not a whole number"
        n = int(value)
        if (self.min is not None and n < self.min) or (self.max is not None and n > self.max):
            lo = "" if self.min is None else f"from {self.min} "
            hi = "" if self.max is None else f"to {self.max}"
            return f"must be a whole number {lo}{hi}".rstrip() + f", not {n}"
        return None

    def _check_date(self, value: str) -> str | None:
        try:
            if _DATE.fullmatch(value):
                dt.date.fromisoformat(value)
                return None
        except ValueError:
            pass
        return "is not a date written YYYY-MM-DD"


def parse_field(name: str, decl: Any) -> tuple[FieldSpec | None, str | None, str | None]:
    """(spec, None, None) or (None, reason, the key the reason is about) for one brand.yaml entry."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
        return None, f"field name '{name}' must be lower_snake_case", None
    if isinstance(decl, str):
        decl = {"type": decl}
    if not isinstance(decl, dict):
        return None, f"field '{name}' must be a mapping with at least 'type' (one of {', '.join(TYPES)})", None
    extra = sorted(set(decl) - FIELD_KEYS)
    if extra:
        return None, f"field '{name}': unknown key '{extra[0]}' (allowed: {', '.join(sorted(FIELD_KEYS))})", extra[0]
    ftype = decl.get("type")
    if ftype not in TYPES:
        return None, f"field '{name}': 'type' must be one of {', '.join(TYPES)}, not {ftype!r}", "type"
    max_length = decl.get("max_length", DEFAULT_MAX_LENGTH[ftype])
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= MAX_LENGTH:
        return None, f"field '{name}': 'max_length' must be a whole number from 1 to {MAX_LENGTH}", "max_length"
    values: tuple[str, ...] = ()
    if ftype == "enum":
        raw = decl.get("values")
        if not isinstance(raw, list) or not raw or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in raw):
            return None, f"field '{name}': an enum needs 'values', a list of texts (quote yes/no/on/off)", "values"
        values = tuple(str(v) for v in raw)
        bad = next((v for v in values if FieldSpec(name, "text", MAX_LENGTH).problem(v)), None)
        if bad is not None:
            return None, f"field '{name}': value '{bad}' is not a plain one-line text", "values"
    elif "values" in decl:
        return None, f"field '{name}': 'values' only applies to type enum", "values"
    bounds: dict[str, int | None] = {"min": None, "max": None}
    for key in ("min", "max"):
        if key not in decl:
            continue
        if ftype != "integer":
            return None, f"field '{name}': '{key}' only applies to type integer", key
        v = decl[key]
        if isinstance(v, bool) or not isinstance(v, int):
            return None, f"field '{name}': '{key}' must be a whole number", key
        bounds[key] = v
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        return None, f"field '{name}': 'min' is larger than 'max'", "min"
    return FieldSpec(name, ftype, max_length, values, bounds["min"], bounds["max"]), None, None
