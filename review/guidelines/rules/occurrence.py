"""occurrence: how often a token may appear in a scope or in each sentence (exclamation marks, words)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import OptionError

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


@register("occurrence")
class Occurrence(TextRule):
    summary = "Limits how many times a token (a regular expression) may occur."
    options = {
        "token": Opt("str", required=True, doc="regular expression to count, e.g. '!' or '\\w+'"),
        "max": Opt("int", doc="at most this many"),
        "min": Opt("int", doc="at least this many"),
        "per": Opt("str", default="scope", doc="'scope' (the whole text) or 'sentence' (each sentence)"),
    }
    default_level = "warning"
    default_message = "'{token}' occurs %s times; the limit is {limit}."

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        try:
            self.regex = re.compile(opts["token"], re.IGNORECASE if self.ignorecase else 0)
        except re.error as e:
            raise OptionError(f"bad regular expression {opts['token']!r}: {e}", ("token",)) from None
        if self.regex.fullmatch(""):
            raise OptionError(f"'token' must not match empty text: {opts['token']!r}", ("token",))
        self.token = opts["token"]
        self.max, self.min = opts.get("max"), opts.get("min")
        if self.max is None and self.min is None:
            raise OptionError("give 'max', 'min' or both")
        for key in ("max", "min"):
            if opts.get(key) is not None and opts[key] < 0:
                raise OptionError(f"'{key}' must not be negative", (key,))
        if self.max is not None and self.min is not None and self.min > self.max:
            raise OptionError("'min' is larger than 'max'", ("min",))
        if opts["per"] not in ("scope", "sentence"):
            raise OptionError(f"'per' must be 'scope' or 'sentence', not {opts['per']!r}", ("per",))
        self.per = opts["per"]

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        plain = st.norm.plain
        if self.per == "scope":
            yield from self._count(st, plain, 0, None)
            return
        for sm in _SENTENCE.finditer(plain):
            if sm.group(0).strip():
                yield from self._count(st, sm.group(0), sm.start(), sm)

    def _count(self, st: ScopeText, text: str, base: int, sentence: re.Match[str] | None) -> Iterator[Finding]:
        hits = list(self.regex.finditer(text))
        n = len(hits)
        if self.max is not None and n > self.max:
            if sentence is not None:
                lead = len(sentence.group(0)) - len(sentence.group(0).lstrip())
                vs, ve = sentence.start() + lead, sentence.end()
            else:
                vs, ve = base + hits[self.max].start(), base + hits[-1].end()
            start, end = st.norm.span(vs, ve)
            yield self.finding(st, (start, end), st.original[start:end], n, token=self.token, count=n, limit=f"at most {self.max}", max=self.max, min=self.min)
        elif self.min is not None and n < self.min:
            span = st.norm.span(sentence.start(), sentence.end()) if sentence is not None else None
            match = st.original[span[0] : span[1]] if span else ""
            yield self.finding(st, span, match, n, token=self.token, count=n, limit=f"at least {self.min}", max=self.max, min=self.min)
