"""conditional: if one text appears, another must appear too (a claim needs its disclaimer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import compile_terms


@register("conditional")
class Conditional(TextRule):
    summary = "When a trigger appears, requires a companion text in the same scope."
    options = {
        "when": Opt("terms", required=True, doc="triggers (or /regex/)"),
        "require": Opt("terms", required=True, doc="companions; any one of them satisfies the rule"),
    }
    default_level = "error"
    default_message = "'%s' needs '%s' in the same text."
    max_args = 2

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.when = compile_terms(opts["when"], ignorecase=self.ignorecase, path=("when",))
        self.require = compile_terms(opts["require"], ignorecase=self.ignorecase, path=("require",))
        self.first_required = self.require.terms[0]

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        hit = self.when.search(st.norm)
        if hit is None or self.require.contains(st.norm):
            return
        _, start, end = hit
        match = st.original[start:end]
        yield self.finding(st, (start, end), match, match, self.first_required, suggestion=self.first_required)

    def words(self) -> frozenset[str] | None:
        return self.when.words()
