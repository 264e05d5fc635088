"""A brand's compiled rules, and the fast path that runs them over a draft."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from .context import CheckContext
from .findings import SCOPES, Finding
from .normalize import normalize
from .rule import Claim, Draft, Rule, ScopeText, TextRule
from .terms import _SEP, TermSet, _is_word, compile_terms, first_tokens

_TOKEN = re.compile(r"\w+")
_serial = itertools.count(1)


class _ScopePlan:
    """The text rules of one scope, arranged so a clean text costs about one regex pass.

    Rules whose findings all need a literal term to match ("screened") share ONE trie regex of
    all their terms. Where it finds nothing, none of them can match and all are skipped. Where it
    matches, only the rules owning the matched term run, plus rules with a term that could start
    inside the matched stretch (a shorter overlapping term the single pass stepped over). Rules
    that cannot be screened (regex terms, case-sensitive) fall back to anchor tokens; rules about
    a whole text (required, occurrence, ...) always run.
    """

    def __init__(self, rules: list[TextRule]):
        self.uid = ("plan", next(_serial))  # keys this plan's results in a text's memo; never reused
        self.always: list[TextRule] = []
        self.by_token: dict[str, list[TextRule]] = {}
        self.by_key: dict[str, list[TextRule]] = {}
        self.by_first: dict[str, list[TextRule]] = {}
        self.order = {id(r): i for i, r in enumerate(rules)}
        terms: list[str] = []
        screenable = True
        for rule in rules:
            if rule.anchors is None:
                self.always.append(rule)
                continue
            for tok in rule.anchors:
                self.by_token.setdefault(tok, []).append(rule)
            if rule.triggers and all(ts.anchors is not None and ts.ignorecase for ts in rule.triggers):
                for ts in rule.triggers:
                    terms += ts.terms
                    for key in ts.keys:
                        _add(self.by_key, key, rule)
                    for term in ts.terms:
                        for tok in first_tokens(term):
                            _add(self.by_first, tok, rule)
            else:
                screenable = False
        # One unscreenable anchored rule would be skipped wrongly: then rely on tokens alone.
        self.screen = compile_terms(sorted(set(terms))).regex if terms and screenable else None
        self.tokens = frozenset(self.by_token)
        # Screened rules' term sets: every term of theirs is in the screen, so their matches are
        # found from the screen's (TermSet.matches_within) instead of another pass over the text.
        self.guided: dict[int, tuple[TermSet, ...]] = {id(r): r.triggers for r in rules if r.anchors is not None} if self.screen is not None else {}
        self._chosen: dict[tuple[tuple[str, str], ...], tuple[list[TextRule], tuple[TermSet, ...]]] = {}

    def __bool__(self) -> bool:
        return bool(self.always or self.by_token)

    def findings(self, st: ScopeText) -> list[Finding]:
        """Every finding of this plan's rules in one text. Text rules see nothing but the text, its
        scope, slot name and offset, so the result is kept with the normalized text and reused when
        the same text comes back in that place: fixed copy, fallbacks, a variant many recipients share."""
        memo = st.norm.memo
        key = (self.uid, st.slot, st.offset)
        got = memo.get(key)
        if got is None:
            got = []
            rules, guided, spans = self._candidates(st)
            norm = st.norm
            for ts in guided:
                if ts.uid not in memo:
                    memo[ts.uid] = ts.matches_within(norm, spans)
            for rule in rules:
                got.extend(rule.check_text(st))
            memo[key] = got
        return got

    def candidates(self, st: ScopeText) -> list[TextRule]:
        return self._candidates(st)[0]

    def _candidates(self, st: ScopeText) -> tuple[list[TextRule], tuple[TermSet, ...], list[tuple[int, int]]]:
        """The rules to run on this text, the term sets of theirs to find from the screen's
        matches, and the screen's match spans (folded-view offsets)."""
        if not self.by_token:
            return self.always, (), []
        if self.screen is not None:
            folded = st.norm.folded
            spans: list[tuple[int, int]] = []
            found = []
            for m in self.screen.finditer(folded):
                spans.append(m.span())
                found.append((m.group(), _next_token(folded, m.end())))
            if not found:
                return self.always, (), spans
            key = tuple(found)
            got = self._chosen.get(key)
            if got is None:
                if len(self._chosen) >= 4096:
                    self._chosen.clear()
                rules = self._choose(found)
                sets = {ts.uid: ts for r in rules for ts in self.guided.get(id(r), ())}
                got = self._chosen[key] = (rules, tuple(sets.values()))
            return got[0], got[1], spans
        chosen: dict[int, TextRule] = {}
        for tok in st.tokens & self.tokens:  # set intersection in C
            for rule in self.by_token[tok]:
                chosen[id(rule)] = rule
        if not chosen:
            return self.always, (), []
        return self.always + sorted(chosen.values(), key=lambda r: self.order[id(r)]), (), []

    def _choose(self, found: list[tuple[str, str]]) -> list[TextRule]:
        """The rules to run for these screen matches: each match's owners, plus rules with a term
        starting at a token inside the match (or at the token right after a match that ends in
        punctuation). A match never starts or ends inside a word, so those tokens are the match's
        own tokens and that next one: the choice depends on the matched text alone and is cached."""
        chosen: dict[int, TextRule] = {}
        for text, after in found:
            for rule in self.by_key.get(_SEP.sub("", text), ()):
                chosen[id(rule)] = rule
            for tok in _TOKEN.findall(text) + ([after] if after else []):
                for rule in self.by_first.get(tok, ()):
                    chosen[id(rule)] = rule
        if not chosen:
            return self.always
        return self.always + sorted(chosen.values(), key=lambda r: self.order[id(r)])


def _next_token(text: str, at: int) -> str:
    """The word token starting exactly at `at` ('' when none does)."""
    if at < len(text) and _is_word(text[at]):
        return _TOKEN.match(text, at).group()  # type: ignore[union-attr]
    return ""


def _add(index: dict[str, list[TextRule]], key: str, rule: TextRule) -> None:
    bucket = index.setdefault(key, [])
    if rule not in bucket:
        bucket.append(rule)


class RuleSet:
    """Compiled rules of one brand (base rules included) and its claims library."""

    def __init__(self, rules: list[Rule], claims: Iterable[Claim] = (), brand: str = ""):
        self.rules = list(rules)
        self.claims = list(claims)
        self.brand = brand
        text_rules = [r for r in self.rules if isinstance(r, TextRule)]
        self._context = [r for r in self.rules if not isinstance(r, TextRule)]
        self._plans = {scope: _ScopePlan([r for r in text_rules if r.scope == scope]) for scope in SCOPES}
        self._plain = {scope: _ScopePlan([r for r in text_rules if not r.needs_context and (r.anywhere or r.scope == scope)]) for scope in SCOPES}
        self._finders = _ScopePlan([r for r in text_rules if r.anywhere and not r.needs_context and not r.presence])

    def __len__(self) -> int:
        return len(self.rules)

    def rule(self, rid: str) -> Rule:
        for r in self.rules:
            if r.id == rid:
                return r
        raise KeyError(rid)

    def check(self, ctx: CheckContext) -> list[Finding]:
        """Every finding for one draft, sorted by scope, slot, position and rule."""
        draft = Draft(ctx)
        out: list[Finding] = []
        for scope, plan in self._plans.items():
            if not plan:
                continue
            for st in draft.texts(scope):
                out.extend(plan.findings(st))
        for rule in self._context:
            out.extend(rule.check(draft))
        return _sorted(out)

    def check_value(self, text: str) -> list[Finding]:
        """Check one recipient field value printed into a message (a merge field): every finder
        of bad things (forbidden terms, unapproved claims, personal data and links, sensitive
        words) runs on it, whatever scope it is configured for. Rules about a whole text
        (length, readability, disclaimers) do not apply to a value alone."""
        st = ScopeText("fixed", None, normalize(text))
        out: list[Finding] = []
        for rule in self._finders.candidates(st):
            out.extend(rule.check_text(st))
        return _sorted(out)

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
        out: list[Finding] = []
        for rule in self._plain[scope].candidates(st):
            if rule.presence and not complete:
                continue
            out.extend(rule.check_text(st))
        return _sorted(out)


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(dict.fromkeys(findings), key=Finding.sort_key)
