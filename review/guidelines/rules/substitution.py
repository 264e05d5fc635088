"""substitution: a term the brand says differently; the finding carries the preferred wording."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..normalize import fold
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import OptionError, compile_terms


def match_case(replacement: str, original: str) -> str:
    """Carry the matched text's casing over to the suggestion ("Risk-free" -> "Low-risk")."""
    letters = [c for c in original if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return replacement.upper()
    if letters and letters[0].isupper() and replacement[:1].islower():
        return replacement[0].upper() + replacement[1:]
    return replacement


def _spelling(text: str) -> str:
    return " ".join(fold(text).split())


@register("substitution")
class Substitution(TextRule):
    summary = "Suggests the brand's preferred wording for a term."
    options = {"swap": Opt("map", required=True, doc="term: preferred wording")}
    default_level = "warning"
    default_message = "Use '%s' instead of '%s'."
    max_args = 2
    anywhere = True

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        swap: dict[str, str] = opts["swap"]
        if not swap:
            raise OptionError("'swap' must list at least one term", ("swap",))
        self.targets = list(swap.values())
        self.terms = compile_terms(list(swap), ignorecase=self.ignorecase, path=("swap",))
        self.target_keys = [_spelling(t) for t in self.targets]

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        for i, start, end in self.terms.finditer(st.norm):
            match = st.original[start:end]
            if _spelling(match) == self.target_keys[i]:
                continue  # already the preferred wording (case or look-alike letters aside)
            suggestion = match_case(self.targets[i], match)
            yield self.finding(st, (start, end), match, suggestion, match, suggestion=suggestion)

    def words(self) -> frozenset[str] | None:
        return self.terms.words()
