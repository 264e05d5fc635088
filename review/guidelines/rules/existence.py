"""existence: terms or patterns that must not appear."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import compile_terms


@register("existence")
class Existence(TextRule):
    summary = "Flags every use of a listed term or pattern."
    options = {
        "tokens": Opt("terms", required=True, doc="terms (or /regex/) that must not appear"),
        "exceptions": Opt("terms", default=[], doc="longer phrases that are fine even though they contain a term"),
    }
    default_level = "error"
    default_message = "Don't use '%s'."
    anywhere = True

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.terms = compile_terms(opts["tokens"], ignorecase=self.ignorecase, path=("tokens",))
        self.exceptions = compile_terms(list(opts["exceptions"]) + list(env.accept), path=("exceptions",))

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        excepted: list[tuple[int, int]] | None = None
        for _, start, end in self.terms.finditer(st.norm):
            if excepted is None:  # the exceptions matter only where a term matched
                excepted = [(s, e) for _, s, e in self.exceptions.finditer(st.norm)]
            if any(s <= start and end <= e for s, e in excepted):
                continue
            match = st.original[start:end]
            yield self.finding(st, (start, end), match, match)

    def words(self) -> frozenset[str] | None:
        return self.terms.words()
