"""A brand's compiled rules, run over a draft, a piece of plain text, or one merge-field value."""

from __future__ import annotations

from collections.abc import Iterable

from .context import CheckContext
from .findings import SCOPES, Finding
from .normalize import normalize
from .rule import Claim, Message, Rule, ScopeText, TextRule


class RuleSet:
    """Compiled rules of one brand (base rules included) and its claims library."""

    def __init__(self, rules: list[Rule], claims: Iterable[Claim] = (), brand: str = ""):
        self.rules = list(rules)
        self.claims = list(claims)
        self.brand = brand
        plain = [r for r in self.rules if isinstance(r, TextRule) and not r.needs_context]
        self._finders = [r for r in plain if r.anywhere and not r.presence]
        self._plain = {scope: [r for r in plain if r.anywhere or r.scope == scope] for scope in SCOPES}

    def __len__(self) -> int:
        return len(self.rules)

    def check(self, ctx: CheckContext) -> list[Finding]:
        """Every finding for one draft, sorted by scope, slot, position and rule."""
        message = Message(ctx)
        return _sorted([f for rule in self.rules for f in rule.check(message)])

    def check_value(self, text: str) -> list[Finding]:
        """Check one recipient field value printed into a message (a merge field): every finder
        of bad things (forbidden terms, unapproved claims, personal data and links, sensitive
        words) runs on it, whatever scope it is configured for. Rules about a whole text
        (length, readability, disclaimers) do not apply to a value alone."""
        st = ScopeText("fixed", None, normalize(text))
        return _sorted([f for rule in self._finders for f in rule.check_text(st)])

    def check_text(self, text: str, scope: str = "message", *, complete: bool = False) -> list[Finding]:
        """Check plain text (a pipeline's copy); rules needing a whole draft are skipped.

        Finder rules (existence, substitution, claims, pii, sensitive, capitalization) run whatever
        scope they are configured for; rules about a whole scope (occurrence, conditional,
        readability) run when configured for `scope`. `required` rules (disclaimers) run only with
        complete=True: a fragment of copy is not expected to carry the disclaimer.
        """
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        st = ScopeText(scope, None, normalize(text))
        return _sorted([f for rule in self._plain[scope] if complete or not rule.presence for f in rule.check_text(st)])


def _sorted(findings: list[Finding]) -> list[Finding]:
    """Sorted by Finding.sort_key, each finding once (two rules may report the very same thing)."""
    return sorted(dict.fromkeys(findings), key=Finding.sort_key)
