"""A brand's compiled rules, run over a draft, a piece of plain text, or one merge-field value."""

from __future__ import annotations

from collections.abc import Iterable

from .context import CheckContext
from .findings import SCOPES, Finding
from .normalize import normalize
from .rule import Claim, Message, Rule, ScopeText, TextRule


class _TextRules:
    """Text rules indexed by the words they need (TextRule.words): a text is checked by the
    rules needing none and by those needing a word it holds, in rule order."""

    def __init__(self, rules: list[TextRule]):
        self.order = {id(r): i for i, r in enumerate(rules)}
        self.any_text: list[TextRule] = []
        self.by_word: dict[str, list[TextRule]] = {}
        for rule in rules:
            words = rule.words()
            if words is None:
                self.any_text.append(rule)
            for word in words or ():
                self.by_word.setdefault(word, []).append(rule)
        self.words = frozenset(self.by_word)

    def __bool__(self) -> bool:
        return bool(self.order)

    def findings(self, st: ScopeText, complete: bool = True) -> list[Finding]:
        rules = self.any_text
        held = self.words & st.norm.tokens
        if held:
            chosen = {id(r): r for word in held for r in self.by_word[word]}
            rules = sorted([*rules, *chosen.values()], key=lambda r: self.order[id(r)])
        return [f for rule in rules if complete or not rule.presence for f in rule.check_text(st)]


class RuleSet:
    """Compiled rules of one brand (base rules included) and its claims library."""

    def __init__(self, rules: list[Rule], claims: Iterable[Claim] = (), brand: str = ""):
        self.rules = list(rules)
        self.claims = list(claims)
        self.brand = brand
        text = [r for r in self.rules if isinstance(r, TextRule)]
        self._context = [r for r in self.rules if not isinstance(r, TextRule)]
        self._scoped = {scope: _TextRules([r for r in text if r.scope == scope]) for scope in SCOPES}
        plain = [r for r in text if not r.needs_context]
        self._plain = {scope: _TextRules([r for r in plain if r.anywhere or r.scope == scope]) for scope in SCOPES}
        self._finders = _TextRules([r for r in plain if r.anywhere and not r.presence])

    def __len__(self) -> int:
        return len(self.rules)

    def check(self, ctx: CheckContext) -> list[Finding]:
        """Every finding for one draft, sorted by scope, slot, position and rule."""
        message = Message(ctx)
        out = [f for scope, rules in self._scoped.items() if rules for st in message.texts(scope) for f in rules.findings(st)]
        return _sorted(out + [f for rule in self._context for f in rule.check(message)])

    def check_value(self, text: str) -> list[Finding]:
        """Check one recipient field value printed into a message (a merge field): every finder
        of bad things (forbidden terms, unapproved claims, personal data and links, sensitive
        words) runs on it, whatever scope it is configured for. Rules about a whole text
        (length, readability, disclaimers) do not apply to a value alone."""
        return _sorted(self._finders.findings(ScopeText("fixed", None, normalize(text))))

    def check_text(self, text: str, scope: str = "message", *, complete: bool = False) -> list[Finding]:
        """Check plain text (a pipeline's copy); rules needing a whole draft are skipped.

        Finder rules (existence, substitution, claims, pii, sensitive, capitalization) run whatever
        scope they are configured for; rules about a whole scope (occurrence, conditional,
        readability) run when configured for `scope`. `required` rules (disclaimers) run only with
        complete=True: a fragment of copy is not expected to carry the disclaimer.
        """
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        return _sorted(self._plain[scope].findings(ScopeText(scope, None, normalize(text)), complete))


def _sorted(findings: list[Finding]) -> list[Finding]:
    """Sorted by Finding.sort_key, each finding once (two rules may report the very same thing)."""
    return sorted(dict.fromkeys(findings), key=Finding.sort_key)
