"""Term lists compiled into one alternation: word-boundary aware, separator tolerant, evasion-proof.

A term is literal text ("risk-free", "no side effects") unless written between slashes
("/\\d+(\\.\\d+)?% APR/"), which makes it a regular expression. Literal terms match with a
hyphen, a space or nothing between their words, never inside a longer word.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .normalize import Normalized, fold, normalize

_SEP = re.compile(r"[\s\-]+")
_TERM_START = re.compile(r"(?<!\w)\w|[^\w\s\-]")
_WORD = re.compile(r"\w+")
GAP = r"[\s\-]*"  # between the words of a term: hyphen, space(s) or nothing


class OptionError(Exception):
    """A rule option is invalid; `path` leads to the offending YAML node (keys and list indexes)."""

    def __init__(self, reason: str, path: tuple[str | int, ...] = ()):
        self.reason = reason
        self.path = path
        super().__init__(reason)


def is_regex(term: str) -> bool:
    return len(term) >= 2 and term.startswith("/") and term.endswith("/")


def _anchors(term: str) -> set[str] | None:
    """Tokens (of the folded text) one of which must be present for the term to match.

    The anchor is the term's longest word (the rarest, roughly: "diabetes" rather than "your"),
    together with every run of glued neighbouring words containing it ("sideeffects"), since a
    term also matches with nothing between its words.
    """
    view = fold(term).strip()
    words = [w for w in _SEP.split(view) if w]
    if words and all(_WORD.fullmatch(w) for w in words):
        k = max(range(len(words)), key=lambda i: (len(words[i]), i))
        return {"".join(words[a : b + 1]) for a in range(k + 1) for b in range(k, len(words))}
    first = _WORD.search(view)
    if first is None:
        return None
    # A first word glued to punctuation ("no. 1", "100%") is still its own token in the text.
    return {first.group(0)}


def first_tokens(term: str) -> set[str]:
    """The tokens a match of a literal term can start with (its first word, glued to the next ones)."""
    words = [w for w in _SEP.split(fold(term).strip()) if w]
    if words and all(_WORD.fullmatch(w) for w in words):
        return {"".join(words[: k + 1]) for k in range(len(words))}
    first = _WORD.search(fold(term))
    return {first.group(0)} if first else set()


_END = ""  # trie key marking the end of a term


def _is_word(ch: str) -> bool:
    """re's \\w for one character of a str pattern."""
    return ch.isalnum() or ch == "_"


def _units(term: str, ignorecase: bool) -> list[str]:
    """A literal term as trie units: single characters, with GAP between its words."""
    view = fold(term) if ignorecase else normalize(term).plain
    words = [w for w in _SEP.split(view.strip()) if w]
    if not words:
        raise ValueError("empty term")
    units: list[str] = []
    for k, w in enumerate(words):
        if k:
            units.append(GAP)
        units += list(w)
    return units


def trie_pattern(sequences: list[list[str]]) -> str:
    """One regex for many literal terms, shaped as a trie.

    Python's `re` tries alternatives one by one; in a trie every alternative starts with a
    literal character, which the engine rejects in one comparison, and the leading characters
    form a set it scans for without entering the pattern at all. The word-start check comes
    right after the first character (`(?<!\\w.)`) so it does not hide that set.
    """
    root: dict[str, dict] = {}
    for units in sequences:
        node = root
        for u in units:
            node = node.setdefault(u, {})
        node[_END] = {}
    return _emit(root, 0)


def _emit(node: dict[str, dict], depth: int) -> str:
    alts = []
    for unit in sorted(u for u in node if u != _END):
        if unit == GAP:
            head = GAP
        else:
            head = re.escape(unit)
            if depth == 0 and _is_word(unit):
                head += r"(?<!\w.)"  # the term starts at a word boundary
        alts.append(head + _emit(node[unit], depth + 1))
    if _END in node:
        alts.append("")  # last: longer terms win, shorter ones are the fallback
    if len(alts) == 1:
        return alts[0]
    if alts[-1] == "":
        return "(?:" + "|".join(alts[:-1]) + ")?"
    return "(?:" + "|".join(alts) + ")"


_serial = itertools.count(1)


def _term_index(keys: dict[str, int], match: str) -> int:
    """Which literal term a match is: its text without separators is the term's key. Most matches
    hold plain spaces at most, removed without a regex; keys never hold a separator, so a match
    with another separator misses the first lookup and takes the full one."""
    got = keys.get(match.replace(" ", ""))
    return got if got is not None else keys.get(_SEP.sub("", match), 0)


@dataclass(frozen=True)
class TermSet:
    """Several terms compiled into a single regex, plus how to tell which term a match is."""

    terms: tuple[str, ...]
    regex: re.Pattern[str] | None
    anchors: frozenset[str] | None  # None: cannot pre-screen, always search
    ignorecase: bool
    keys: dict[str, int]  # literal match with separators removed -> term index
    # Set when every term is a /regex/ that needs one of these characters: a text holding none of
    # them cannot match, and `in` (C speed) says so before the regex scans every position.
    needs: str | None = field(default=None, compare=False, repr=False)
    # Each literal term as it reads with single spaces between its words (in the view it is
    # matched in): where one occurs on word boundaries, the regex matches there too, so presence
    # is decided by str.find (C speed) before any regex runs.
    spelled: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # The characters a literal term can start with (in the view it is matched in).
    firsts: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # Never reused: keys this set's matches in a text's memo (shared by every rule using the set).
    uid: int = field(default_factory=lambda: next(_serial), compare=False, repr=False)

    def matches(self, norm: Normalized) -> list[tuple[int, int, int]]:
        """(term index, start, end) in ORIGINAL offsets for every match, computed once per text."""
        memo = norm.memo
        got = memo.get(self.uid)
        if got is None:
            got = memo[self.uid] = self._scan(norm) if self.regex is not None and self._may_match(norm) else []
        return got

    def matches_within(self, norm: Normalized, spans: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """What `matches(norm)` returns, found without a pass over the whole text.

        For a set of literal, case-insensitive terms that are all in a screen regex (one trie of
        many sets' terms, same boundaries) which found `spans` in this text's folded view. Where
        one of our terms matches, the screen matches too, so its non-overlapping pass either
        reported a match starting there or stepped over that position inside a longer match. So
        every position where a match of ours can start lies in `spans`; trying our regex at each
        of them in order, and going on after each match's end, is exactly what finditer does.
        """
        view = norm.folded
        regex, firsts, keys, span = self.regex, self.firsts, self.keys, norm.span
        if regex is None or not self.ignorecase or self.anchors is None:
            return self.matches(norm)
        out: list[tuple[int, int, int]] = []
        pos = 0
        for s, e in spans:
            # Where a term can start: a word's first character, or a character that is neither
            # word, space nor hyphen ("#1"); never inside a word (our regex would refuse it).
            for c in _TERM_START.finditer(view, max(s, pos), e):
                p = c.start()
                if p < pos or view[p] not in firsts:
                    continue
                m = regex.match(view, p)
                if m is None or m.end() == p:
                    continue
                out.append((_term_index(keys, m.group()), *span(p, m.end())))
                pos = m.end()
        return out

    def _may_match(self, norm: Normalized) -> bool:
        needs = self.needs
        if needs is None:
            return True
        view = norm.folded if self.ignorecase else norm.plain
        return any(c in view for c in needs)

    def _scan(self, norm: Normalized) -> list[tuple[int, int, int]]:
        out = []
        view = norm.folded if self.ignorecase else norm.plain
        keys = self.keys
        span = norm.span
        for m in self.regex.finditer(view):  # type: ignore[union-attr]
            if m.end() == m.start():
                continue
            group = m.lastgroup
            if group is not None:
                idx = int(group[1:])
            else:
                idx = _term_index(keys, m.group())
            start, end = span(m.start(), m.end())
            out.append((idx, start, end))
        return out

    def finditer(self, norm: Normalized) -> Iterator[tuple[int, int, int]]:
        """(term index, start, end) in ORIGINAL offsets for every match in the text."""
        return iter(self.matches(norm))

    def search(self, norm: Normalized) -> tuple[int, int, int] | None:
        """The first match, or None (memoized per text like `matches`)."""
        if self.regex is None:
            return None
        memo = norm.memo
        got = memo.get(self.uid)
        if got is not None:
            return got[0] if got else None
        key = -self.uid
        if key in memo:
            return memo[key]
        if not self._may_match(norm):
            memo[key] = None
            return None
        view = norm.folded if self.ignorecase else norm.plain
        hit = None
        for m in self.regex.finditer(view):
            if m.end() == m.start():
                continue
            group = m.lastgroup
            idx = int(group[1:]) if group is not None else _term_index(self.keys, m.group())
            hit = (idx, *norm.span(m.start(), m.end()))
            break
        memo[key] = hit
        return hit

    def contains(self, norm: Normalized) -> bool:
        """Whether any term occurs in the text (as `search(norm) is not None`, usually faster)."""
        view = norm.folded if self.ignorecase else norm.plain
        for lit in self.spelled:
            at = view.find(lit)
            while at >= 0:
                end = at + len(lit)
                if not (_is_word(lit[0]) and at and _is_word(view[at - 1])) and not (_is_word(lit[-1]) and end < len(view) and _is_word(view[end])):
                    return True
                at = view.find(lit, at + 1)
        return self.search(norm) is not None

    def possible(self, tokens: set[str] | frozenset[str]) -> bool:
        return self.anchors is None or not self.anchors.isdisjoint(tokens)


# Identical term lists (the same rule configured several times) share one TermSet, so a text is
# scanned for them once however many rules use them.
_INTERNED: dict[tuple[tuple[str, ...], bool], TermSet] = {}


def compile_terms(terms: Sequence[str], *, ignorecase: bool = True, path: tuple[str | int, ...] = ()) -> TermSet:
    """Compile terms once at load; a bad regex raises OptionError pointing at its list item."""
    try:
        key = (tuple(terms), bool(ignorecase))
        got = _INTERNED.get(key)
    except TypeError:  # unhashable junk: let _compile report it
        return _compile(terms, ignorecase, path)
    if got is None:
        got = _compile(terms, ignorecase, path)
        if len(_INTERNED) < 4096:
            _INTERNED[key] = got
    return got


def _compile(terms: Sequence[str], ignorecase: bool, path: tuple[str | int, ...]) -> TermSet:
    literals: list[list[str]] = []
    spelled: list[str] = []
    firsts: set[str] = set()
    regexes: list[str] = []
    keys: dict[str, int] = {}
    anchors: set[str] | None = set()
    for i, term in enumerate(terms):
        if not isinstance(term, str) or not term.strip():
            raise OptionError("terms must be non-empty text", path + (i,))
        term = term.strip()
        if is_regex(term):
            src = term[1:-1]
            try:
                re.compile(src)
            except re.error as e:
                raise OptionError(f"bad regular expression {term!r}: {e}", path + (i,)) from None
            flag = "(?i:" if ignorecase else "(?:"
            regexes.append(f"(?P<r{i}>{flag}{src}))")
            anchors = None
            continue
        units = _units(term, ignorecase)
        literals.append(units)
        spelled.append("".join(" " if u == GAP else u for u in units))
        firsts.add(units[0])
        keys.setdefault("".join(u for u in units if u != GAP), i)
        found = _anchors(term)
        if found is None:
            anchors = None
        elif anchors is not None:
            anchors |= found
    parts = []
    if literals:
        word_end = [u for u in literals if _is_word(u[-1])]
        other_end = [u for u in literals if not _is_word(u[-1])]
        # The word-end check is shared, after the trie: a term never stops inside a word.
        if word_end:
            parts.append(f"(?:{trie_pattern(word_end)})(?!\\w)")
        if other_end:
            parts.append(f"(?:{trie_pattern(other_end)})")
    parts += regexes
    try:
        regex = re.compile("|".join(parts)) if parts else None
    except re.error as e:  # e.g. a pattern that only fails in combination (inline flags)
        raise OptionError(f"bad regular expression: {e}", path) from None
    needs = None
    if regexes and not literals:
        chars = [_needed_char(t.strip()[1:-1]) for t in terms]
        if all(chars):
            needs = "".join(sorted(set(chars)))  # type: ignore[arg-type]
    frozen_anchors = frozenset(anchors) if anchors is not None else None
    return TermSet(tuple(t.strip() for t in terms), regex, frozen_anchors, ignorecase, keys, needs, tuple(spelled), frozenset(firsts))


def _needed_char(src: str) -> str | None:
    """A character every match of this regular expression contains, if one is plain to see: a
    literal at its top level (not optional, not in a branch), ASCII and not a letter (so case and
    the folded view cannot change it). None when unsure."""
    try:
        from re import _constants as sre_c
        from re import _parser as sre_p

        parsed = sre_p.parse(src)
    except Exception:  # noqa: BLE001 - a private module that may change: then no pre-check
        return None
    if parsed.state.flags & (sre_c.SRE_FLAG_VERBOSE):
        return None
    for op, arg in parsed.data:
        if op is sre_c.LITERAL and arg < 128:
            ch = chr(arg)
            if not ch.isalnum() and ch not in "\n\r\t\x0b\x0c ":
                return ch
    return None
