"""required: text that must appear in its scope (a disclaimer, an unsubscribe line)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import compile_terms


@register("required")
class Required(TextRule):
    summary = "Reports text that must appear in its scope but does not."
    options = {
        "tokens": Opt("terms", required=True, doc="texts (or /regex/) that must appear"),
        "any": Opt("bool", default=False, doc="true: one of the tokens is enough; false: every token must appear"),
    }
    default_level = "error"
    default_message = "Missing required text: '%s'."
    presence = True

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.tokens = [t.strip() for t in opts["tokens"]]
        # One compiled set per token: each must be found on its own.
        self.sets = [compile_terms([t], ignorecase=self.ignorecase, path=("tokens", i)) for i, t in enumerate(self.tokens)]
        self.any = bool(opts["any"])

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        missing = [tok for tok, ts in zip(self.tokens, self.sets, strict=True) if not ts.contains(st.norm)]
        if self.any:
            if len(missing) == len(self.tokens):
                yield self.finding(st, None, "", " / ".join(self.tokens))
            return
        for tok in missing:
            yield self.finding(st, None, "", tok)
