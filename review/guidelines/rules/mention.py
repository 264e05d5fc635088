"""mention: a fill must name the inputs its template slot lists under `must_name` ("Mention their
type of account": "thank you for opening your new account" for a savings customer ignores the one
thing the slot was given)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt
from ..terms import TermSet, compile_terms

_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_TENS = {30: "thirty", 40: "forty", 50: "fifty", 60: "sixty"}


def _spelled(value: str) -> list[str]:
    """A whole number's word ("8": "eight"), so "eight years" names tenure_years=8."""
    if not value.isdigit():
        return []
    n = int(value)
    if n < len(_NUMBER_WORDS):
        return [_NUMBER_WORDS[n]]
    return [_TENS[n]] if n in _TENS else []


def _pattern(value: str) -> re.Pattern[str]:
    """The value as whole words, any spacing or hyphen between its words, an optional plural."""
    words = [re.escape(w) for w in re.split(r"[\s-]+", value.strip()) if w]
    body = r"[\s-]+".join(words)
    plural = "" if value.strip()[-1:].isdigit() else r"(?:s|es)?"
    return re.compile(rf"(?<![\w]){body}{plural}(?![\w])", re.IGNORECASE)


@register("mention")
class Mention(ContextRule):
    summary = "A slot's fill must name each input its template lists under must_name (the value itself, or one of its words)."
    options = {
        "words": Opt("termmap", default={}, doc="other ways to name a value (value: [words or /regex/]), e.g. mortgage: [home loan]"),
    }
    default_level = "error"
    default_scope = "slot"
    allowed_scopes = ("slot",)
    default_message = "%s"

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.words: dict[str, TermSet] = {k.lower(): compile_terms(v, ignorecase=True, path=("words", k)) for k, v in opts["words"].items()}

    def names(self, text: str, norm: Any, value: str) -> bool:
        if _pattern(value).search(text) or any(_pattern(w).search(text) for w in _spelled(value)):
            return True
        terms = self.words.get(value.lower())
        return terms is not None and any(True for _ in terms.finditer(norm))

    def check(self, message: Message) -> Iterator[Finding]:
        ctx = message.ctx
        for st in message.texts("slot"):
            if st.slot is None or not st.original.strip():
                continue
            if st.original.strip() in ctx.slot_approved.get(st.slot, ()):
                continue  # approved text (a fallback, a base, a chosen alternative) is judged by the people who approved it
            inputs = ctx.slot_inputs.get(st.slot) or {}
            for field in ctx.slot_must_name.get(st.slot, ()):
                value = str(inputs.get(field) or "").strip()
                if value and not self.names(st.original, st.norm, value):
                    instruction = ctx.slot_instructions.get(st.slot, "")
                    asked = f"; its instruction asked: {instruction}" if instruction else ""
                    why = f"{st.slot} does not name the {field.replace('_', ' ')} it was given ({field}={value}){asked}"
                    yield self.finding(st, None, st.original, why, field=field, value=value)
