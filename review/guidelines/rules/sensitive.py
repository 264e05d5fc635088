"""sensitive: text that reveals or infers special-category data, or 'creepy' knowledge of the reader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..lexicon import SENSITIVE
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import OptionError, compile_terms


@register("sensitive")
class Sensitive(TextRule):
    summary = "Flags language revealing health, religion, ethnicity, sexuality, politics, money trouble, or creepy knowledge."
    options = {
        "categories": Opt("strlist", doc=f"built-in lists to use: {', '.join(SENSITIVE)} (default: all but creepy)"),
        "terms": Opt("termmap", default={}, doc="extra terms per category (a new category name is fine)"),
    }
    default_level = "error"
    default_scope = "slot"
    default_message = "Reveals or infers %s: '%s'."
    max_args = 2
    anywhere = True

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        chosen = opts.get("categories")
        if chosen is None:
            chosen = [c for c in SENSITIVE if c != "creepy"]
        for i, c in enumerate(chosen):
            if c not in SENSITIVE:
                raise OptionError(f"unknown category {c!r} (known: {', '.join(SENSITIVE)})", ("categories", i))
        terms: list[str] = []
        self.labels: list[str] = []
        for c in chosen:
            label, words = SENSITIVE[c]
            terms += words
            self.labels += [label] * len(words)
        for cat, words in opts["terms"].items():
            compile_terms(words, path=("terms", cat))  # so a bad /regex/ is reported at its own line
            start = len(terms)
            terms += words
            self.labels += [SENSITIVE[cat][0] if cat in SENSITIVE else cat.replace("_", " ")] * (len(terms) - start)
        if not terms:
            raise OptionError("no terms: choose 'categories' or add 'terms'")
        self.terms = compile_terms(terms, ignorecase=self.ignorecase, path=("terms",))

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        for i, start, end in self.terms.finditer(st.norm):
            match = st.original[start:end]
            yield self.finding(st, (start, end), match, self.labels[i], match, category=self.labels[i])

    def words(self) -> frozenset[str] | None:
        return self.terms.words()
