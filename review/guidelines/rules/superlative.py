"""superlative: a fill claiming a superlative or a ranking ("the UK's busiest city", "our most
popular cover", "#1") that neither its inputs nor an approved claim it quotes says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..normalize import normalize
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt
from ..terms import compile_terms

TERMS = [
    "best", "biggest", "largest", "leading", "number one", "no. 1", "/#\\s?1\\b/", "top-rated", "top rated", "unbeatable",
    "unrivalled", "unmatched", "world-class", "award-winning", "most popular", "most trusted", "most loved", "favourite",
]  # fmt: skip
# "-est" words that are no superlative, or none that claims anything.
NOT_SUPERLATIVE = [
    "interest", "honest", "modest", "forest", "request", "guest", "harvest", "contest", "suggest", "west", "test", "rest",
    "pest", "protest", "latest", "nearest", "earliest", "soonest", "arrest", "invest", "digest", "chest", "nest", "quest",
    "manifest", "priest", "attest", "detest", "infest", "lest", "unrest", "midwest", "southwest", "northwest", "conquest",
    "interested", "inquest", "behest",
]  # fmt: skip
# A hyphen may follow ("fastest-growing") but not precede ("self-interest" is no superlative).
_EST = re.compile(r"(?<![\w'\u2019-])[A-Za-z]{2,}est(?![\w'\u2019])")
_MOST = re.compile(r"(?<![\w'\u2019-])(?:most|least)\s+[a-z]+(?:ar|ed|ful|ive|ble|ent|ant|ic|al|ous)(?![\w'\u2019-])", re.I)


@register("superlative")
class Superlative(ContextRule):
    summary = "A slot's fill may not claim a superlative or ranking unless its inputs or an active approved claim it quotes say so."
    options = {
        "terms": Opt("terms", doc="superlatives and rankings (default: a built-in list: best, largest, number one, #1, most popular, ...)"),
        "extra_terms": Opt("terms", default=[], doc="terms added to the list"),
        "est_words": Opt("bool", default=True, doc="also report any word ending in -est ('busiest') and 'most/least' + adjective"),
        "exceptions": Opt("terms", default=[], doc="words or phrases that are fine ('best wishes'); added to a built-in list of -est words that claim nothing"),
    }
    default_level = "error"
    default_scope = "slot"
    allowed_scopes = ("slot",)
    default_message = "%s"

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.terms = compile_terms(list(opts.get("terms") or TERMS) + list(opts["extra_terms"]), ignorecase=True, path=("terms",))
        self.est_words = bool(opts["est_words"])
        self.exceptions = compile_terms(list(opts["exceptions"]) + list(env.accept), ignorecase=True, path=("exceptions",))
        self.not_est = frozenset(NOT_SUPERLATIVE)
        # Only an ACTIVE claim, not past its valid_until on the day of the check, grounds a
        # superlative; a retired or expired one is the claims rule's error.
        self.active = [c for c in env.claims if c.status == "active"]
        self.claims = compile_terms([c.wording.strip().rstrip(".") for c in self.active], ignorecase=True) if self.active else None

    def check(self, message: Message) -> Iterator[Finding]:
        for st in message.texts("slot"):
            if st.slot is None or not st.original:
                continue
            given = {k: str(v) for k, v in (message.ctx.slot_inputs.get(st.slot) or {}).items() if v not in (None, "")}
            inputs = " ".join(normalize(v).plain.lower() for v in given.values())
            covered = [(s, e) for _, s, e in self.exceptions.finditer(st.norm)]
            if self.claims is not None:
                covered += [(s, e) for i, s, e in self.claims.finditer(st.norm) if self.active[i].in_force(message.ctx.today)]
            found = [(s, e) for _, s, e in self.terms.finditer(st.norm)]
            if self.est_words:
                text = st.original
                found += [(m.start(), m.end()) for m in _EST.finditer(text) if m.group().lower() not in self.not_est]
                found += [(m.start(), m.end()) for m in _MOST.finditer(text)]
            said = ", ".join(f"{k}={v}" for k, v in sorted(given.items())) or "nothing"
            seen: set[tuple[int, int]] = set()
            for start, end in sorted(found):
                if (start, end) in seen or any(s <= start and end <= e for s, e in covered):
                    continue
                seen.add((start, end))
                match = st.original[start:end]
                if re.search(rf"(?<!\w){re.escape(match.lower())}(?!\w)", inputs):
                    continue  # the input says it
                why = f"{st.slot} claims '{match}', which neither its inputs ({said}) nor an approved claim says"
                yield self.finding(st, (start, end), match, why, given=said)
