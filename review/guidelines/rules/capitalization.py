"""capitalization: brand names spelled exactly, and no SHOUTING in all-caps words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import OptionError, compile_terms, is_regex

# The word-start check follows the first capital (same matches as a leading (?<!\w)), so the
# engine can skip ahead to capitals instead of trying the pattern at every position.
_CAPS_WORD = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z0-9]*(?:['\-][A-Z0-9]+)*(?![\w])")


@register("capitalization")
class Capitalization(TextRule):
    summary = "Brand names must be spelled exactly; words must not be written in ALL CAPS."
    options = {
        "names": Opt("terms", default=[], doc="names that must be written exactly like this"),
        "shouting": Opt("bool", default=False, doc="flag words written in capitals"),
        "min_length": Opt("int", default=4, doc="only words with at least this many capital letters count as shouting"),
        "exceptions": Opt("terms", default=[], doc="capitalised words that are fine (acronyms: FCA, APR, NHS)"),
    }
    default_level = "warning"
    default_message = "Write '%s' as '{suggestion}'."

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.names = [n.strip() for n in opts["names"]]
        if any(is_regex(n) for n in self.names):
            raise OptionError("'names' must be plain text, not /regex/", ("names",))
        self.shouting = bool(opts["shouting"])
        if not self.names and not self.shouting:
            raise OptionError("give 'names', or 'shouting: true', or both")
        self.terms = compile_terms(self.names, path=("names",))
        self.min_length = int(opts["min_length"])
        allowed = list(opts["exceptions"]) + [a for a in env.accept if a.isupper()]
        self.exceptions = {a.strip().upper() for a in allowed}

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        original = st.original
        for i, start, end in self.terms.finditer(st.norm):
            match = original[start:end]
            if match == self.names[i] or _in_address(original, start, end):
                continue
            yield self.finding(st, (start, end), match, match, suggestion=self.names[i])
        if not self.shouting:
            return
        for m in _CAPS_WORD.finditer(st.norm.plain):
            word = m.group(0)
            if sum(c.isalpha() for c in word) < self.min_length or word in self.exceptions:
                continue
            start, end = st.norm.span(m.start(), m.end())
            match = original[start:end]
            yield self.finding(
                st,
                (start, end),
                match,
                match,
                suggestion=word.capitalize() if word.isalpha() else word.lower(),
                message="Don't shout: write '%s' in normal case.",
            )

    def words(self) -> frozenset[str] | None:
        return None if self.shouting else self.terms.words()


def _in_address(text: str, start: int, end: int) -> bool:
    """A name inside an email address or web address is lower-case by convention."""
    before = text[start - 1] if start > 0 else ""
    after = text[end : end + 2]
    return before in ("@", ".", "/") or (after[:1] in (".", "@") and after[1:2].isalnum())
