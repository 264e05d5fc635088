"""claims: claim-like phrases must match an ACTIVE claim of the brand's claims library (claims.yaml)
that is not past its `valid_until` (an expired claim is reported like a retired one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..lexicon import CLAIM_TRIGGERS
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import compile_terms


@register("claims")
class Claims(TextRule):
    summary = "Claim-like phrases must be the exact wording of an active claim from claims.yaml."
    options = {
        "triggers": Opt("terms", doc="claim-like phrases (default: a built-in list incl. superlatives)"),
        "extra_triggers": Opt("terms", default=[], doc="phrases added to the triggers"),
        "exceptions": Opt("terms", default=[], doc="phrases that are not claims though they contain a trigger ('best interests')"),
    }
    default_level = "error"
    default_message = "Unapproved claim '%s': no active claim in the claims library matches."
    anywhere = True

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        triggers = list(opts.get("triggers") or CLAIM_TRIGGERS) + list(opts["extra_triggers"])
        self.triggers_set = compile_terms(triggers, ignorecase=self.ignorecase, path=("triggers",))
        self.exceptions = compile_terms(list(opts["exceptions"]) + list(env.accept), path=("exceptions",))
        self.claims = list(env.claims)
        # A closing full stop is not part of the claim: the claim may be used mid-sentence.
        self.wordings = compile_terms([c.wording.strip().rstrip(".") for c in self.claims]) if self.claims else None

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        day = st.today  # None: today (UTC)
        used: list[tuple[int, int]] = []
        if self.wordings is not None:
            for i, start, end in self.wordings.finditer(st.norm):
                claim = self.claims[i]
                match = st.original[start:end]
                used.append((start, end))
                if claim.in_force(day):
                    ref = f" ({claim.reference})" if claim.reference else ""
                    yield self.finding(st, (start, end), match, level="suggestion", claim_id=claim.id, message=f"Matched approved claim {claim.id}{ref}.")
                elif claim.status == "active":  # past its valid_until: treated as retired
                    yield self.finding(
                        st,
                        (start, end),
                        match,
                        level="error",
                        claim_id=claim.id,
                        message=f"Claim {claim.id} expired on {claim.valid_until} (valid_until in claims.yaml) and may no longer be used.",
                    )
                else:
                    yield self.finding(
                        st, (start, end), match, level="error", claim_id=claim.id, message=f"Claim {claim.id} is retired and may no longer be used."
                    )
        excepted = used + [(s, e) for _, s, e in self.exceptions.finditer(st.norm)]
        for _, start, end in self.triggers_set.finditer(st.norm):
            if any(s <= start and end <= e for s, e in excepted):
                continue
            match = st.original[start:end]
            yield self.finding(st, (start, end), match, match)

    def words(self) -> frozenset[str] | None:
        triggers = self.triggers_set.words()
        wordings = self.wordings.words() if self.wordings is not None else frozenset()
        return None if triggers is None or wordings is None else triggers | wordings
