"""Term lists compiled into one alternation: word-boundary aware, separator tolerant, evasion-proof.

A term is literal text ("risk-free", "no side effects") unless written between slashes
("/\\d+(\\.\\d+)?% APR/"), which makes it a regular expression. Literal terms match with a
hyphen, a space or nothing between their words, never inside a longer word.

The engine's speed tricks live here, as Vale keeps its one inside its regex wrapper: the
literal terms of a list are compiled as a trie (`trie_pattern`), which Python's `re` scans far
faster than a plain alternation (bench/checks.py prints both); and a case-insensitive list of
literal terms skips a text that lacks the words its matches need (`_word_needs`) without
scanning it. Rules know neither; a term rule only passes its list's key words on
(`TextRule.words`) so the rule set need not call it for a text holding none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .normalize import Normalized, fold, normalize

_SEP = re.compile(r"[\s\-]+")
_WORD = re.compile(r"\w+")
GAP = r"[\s\-]*"  # between the words of a term: hyphen, space(s) or nothing
_END = ""  # trie key marking the end of a term


class OptionError(Exception):
    """A rule option is invalid; `path` leads to the offending YAML node (keys and list indexes)."""

    def __init__(self, reason: str, path: tuple[str | int, ...] = ()):
        self.reason = reason
        self.path = path
        super().__init__(reason)


def is_regex(term: str) -> bool:
    return len(term) >= 2 and term.startswith("/") and term.endswith("/")


def _word_needs(term: str) -> tuple[set[str], tuple[frozenset[str], ...]] | None:
    """What a text's words (Normalized.tokens, of the folded view) hold wherever this literal,
    case-insensitive term matches: (keys, needs). Each of `needs` is the set of words one of
    which must be present; `keys` is the need of the term's longest word (the rarest, roughly:
    "diabetes" rather than "your"), which indexes the term. None: no such words (always scan).

    A term of words only ("side effects") also matches with nothing between its words, so each
    word is needed alone or glued to its neighbours ("side", "sideeffects"). A term that is not
    all words ("no. 1", "100%") needs its first word, which ends where the punctuation starts.
    """
    view = fold(term).strip()
    words = [w for w in _SEP.split(view) if w]
    if words and all(_WORD.fullmatch(w) for w in words):
        runs = [frozenset("".join(words[a : b + 1]) for a in range(i + 1) for b in range(i, len(words))) for i in range(len(words))]
        k = max(range(len(words)), key=lambda i: (len(words[i]), i))
        return set(runs[k]), tuple(runs)
    first = _WORD.search(view)
    return ({first.group(0)}, (frozenset([first.group(0)]),)) if first else None


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
    right after the first character (`(?<!\\w.)`) so it does not hide that set. At every branch
    longer terms are tried first, shorter ones are the fallback.
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


@dataclass(frozen=True)
class TermSet:
    """Several terms compiled into a single regex, plus how to tell which term a match is."""

    terms: tuple[str, ...]
    regex: re.Pattern[str] | None
    ignorecase: bool
    keys: dict[str, int]  # literal match with separators removed -> term index
    # Case-insensitive literal terms only (matched in the folded view, where Normalized.tokens
    # come from): each term's _word_needs, under each of its keys. None: always scan.
    needs: dict[str, list[tuple[frozenset[str], ...]]] | None = None
    keys_needing: frozenset[str] = frozenset()  # the keys of `needs`, as a set (set operations pick the smaller side)

    def may_match(self, norm: Normalized) -> bool:
        """False when the text lacks words every match needs (then the regex need not scan it)."""
        if self.needs is None:
            return self.regex is not None
        tokens = norm.tokens
        if tokens.isdisjoint(self.keys_needing):
            return False
        for key in self.keys_needing & tokens:
            for needs in self.needs[key]:
                if all(not words.isdisjoint(tokens) for words in needs):
                    return True
        return False

    def words(self) -> frozenset[str] | None:
        """Words one of which every text with a match holds (Normalized.tokens); None: any text may match."""
        return self.keys_needing if self.needs is not None else None

    def finditer(self, norm: Normalized) -> Iterator[tuple[int, int, int]]:
        """(term index, start, end) in ORIGINAL offsets for every match in the text."""
        if self.regex is None or not self.may_match(norm):
            return
        view = norm.folded if self.ignorecase else norm.plain
        for m in self.regex.finditer(view):
            if m.end() == m.start():
                continue
            group = m.lastgroup
            idx = int(group[1:]) if group is not None else self.keys.get(_SEP.sub("", m.group()), 0)
            yield (idx, *norm.span(m.start(), m.end()))

    def search(self, norm: Normalized) -> tuple[int, int, int] | None:
        """The first match, or None."""
        return next(self.finditer(norm), None)

    def contains(self, norm: Normalized) -> bool:
        """Whether any term occurs in the text."""
        return self.search(norm) is not None


def compile_terms(terms: Sequence[str], *, ignorecase: bool = True, path: tuple[str | int, ...] = ()) -> TermSet:
    """Compile terms once at load; a bad regex raises OptionError pointing at its list item."""
    literals: list[list[str]] = []
    regexes: list[str] = []
    keys: dict[str, int] = {}
    needs: dict[str, list[tuple[frozenset[str], ...]]] | None = {} if ignorecase else None
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
            needs = None
            continue
        units = _units(term, ignorecase)
        literals.append(units)
        keys.setdefault("".join(u for u in units if u != GAP), i)
        found = _word_needs(term) if needs is not None else None
        if found is None:
            needs = None
        elif needs is not None:
            for key in found[0]:
                needs.setdefault(key, []).append(found[1])
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
    return TermSet(tuple(t.strip() for t in terms), regex, ignorecase, keys, needs, frozenset(needs or ()))
