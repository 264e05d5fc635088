"""Characters a reviewer cannot see: refused wherever text enters the product.

Zero-width characters, bidirectional overrides ("Trojan Source"), control characters and other
invisible format characters let a text read one way on screen and another way to a rule, a
mailer or a spreadsheet. Audience import, template files and slot edits all use this one test,
so the standard is the same wherever text comes in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from .errors import WorkflowError

# Invisible in most fonts though not in category Cf/Cc (Hangul fillers, combining grapheme joiner,
# Mongolian vowel separator, Braille blank).
_INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u180e\u2800\u3164\uffa0")
_NEWLINES = frozenset("\n\r")


class UnsafeText(WorkflowError):
    """Text holds an invisible, bidirectional-override or control character."""


def describe(ch: str) -> str:
    """'U+202E RIGHT-TO-LEFT OVERRIDE' (a name a person can search for)."""
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'control character')}"


def find_unsafe(text: str, *, multiline: bool = True) -> int | None:
    """Index of the first character a reader cannot see or that controls layout, else None.

    Tab, and with `multiline` line feed and carriage return, are ordinary; every other control
    character (Cc), format character (Cf: zero-width, bidi, soft hyphen, BOM), line/paragraph
    separator (Zl, Zp), private-use or surrogate code point is not.
    """
    if text.isascii():
        for i, ch in enumerate(text):
            if (ch < " " or ch == "\x7f") and ch != "\t" and not (multiline and ch in _NEWLINES):
                return i
        return None
    for i, ch in enumerate(text):
        if ch == "\t" or (multiline and ch in _NEWLINES):
            continue
        if ch in _INVISIBLE_EXTRA or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs"):
            return i
    return None


def check_plain_text(value: str, where: str, *, multiline: bool = True) -> None:
    """Raise UnsafeText naming `where` and the character when `value` holds one a reader cannot see."""
    at = find_unsafe(value, multiline=multiline)
    if at is not None:
        raise UnsafeText(f"{where}: contains {describe(value[at])} at character {at + 1}, which readers cannot see; remove it and type the text again")


def check_slot_texts(slots: Mapping[str, object]) -> None:
    """For workflow.edit_draft, on the raw edited texts (before whitespace is collapsed): refuse
    any slot text holding a character readers cannot see, naming the slot."""
    for name, text in slots.items():
        check_plain_text(str(text), f"slot '{name}'")
