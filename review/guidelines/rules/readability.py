"""readability: a Flesch-Kincaid grade ceiling."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import OptionError

_LETTERS = re.compile(r"[a-z]+(?:'[a-z]+)?")


@lru_cache(maxsize=1)
def _hyphenator() -> Any:
    # textstat's own syllable fallback; its English default needs an NLTK download we never make.
    import pyphen

    return pyphen.Pyphen(lang="en_US")


@lru_cache(maxsize=65536)
def _syllables(word: str) -> int:
    return len(_hyphenator().positions(word)) + 1


# textstat's word and sentence counts (0.7.x: counts.count_words / count_sentences with their
# defaults), done with the same regular expressions compiled once and without its per-call caches,
# which cost more than the counting on short texts. test_readability pins them to textstat's.
_NONCONTRACTION_APOSTROPHE = re.compile(r"\'(?![tsd]|ve|ll|re)")
_PUNCTUATION = re.compile(r"[^\w\s\']")
_TS_SENTENCE = re.compile(r"\b[^.!?]+[.!?]*")
# Three tokens each holding a word character: certainly more than two words (the common case).
_THREE_WORDS = re.compile(r"\w\S*\s+\S*\w\S*\s+\S*\w")


def lexicon_count(text: str) -> int:
    """textstat.lexicon_count(text): words left after removing punctuation (contractions kept)."""
    return len(_PUNCTUATION.sub("", _NONCONTRACTION_APOSTROPHE.sub("", text)).split())


_HIGH = 32  # a token's syllables sit above its word count in one int, so sum() adds both at once


@lru_cache(maxsize=65536)
def _token_counts(token: str) -> int:
    """One whitespace-free token: its word count (0 or 1) + its syllables << _HIGH."""
    return lexicon_count(token) + (sum(map(_syllables, _LETTERS.findall(token.lower()))) << _HIGH)


def _words(text: str) -> int:
    return sum(map(_token_counts, text.split())) & ((1 << _HIGH) - 1)


@lru_cache(maxsize=16384)
def _short(sentence: str) -> int:
    """1 if textstat would not count this sentence (two words or fewer), else 0."""
    return 0 if _THREE_WORDS.search(sentence) else int(_words(sentence) <= 2)


def sentence_count(text: str) -> int:
    """textstat.sentence_count(text): sentences, not counting those of two words or fewer."""
    if not text:
        return 0
    sentences = _TS_SENTENCE.findall(text)
    return max(1, len(sentences) - sum(map(_short, sentences)))


@lru_cache(maxsize=16384)
def _line_counts(line: str) -> tuple[int, int]:
    """One line: its whitespace-separated tokens, and their summed _token_counts."""
    tokens = line.split()
    return len(tokens), sum(map(_token_counts, tokens))


def text_counts(text: str) -> tuple[int, int]:
    """(len(text.split()), summed _token_counts of those tokens), added up line by line: no token
    spans a line break, and lines (fixed copy above all) recur across drafts, so they are cached."""
    n = total = 0
    for k, t in map(_line_counts, text.split("\n")):
        n += k
        total += t
    return n, total


@lru_cache(maxsize=4096)
def grade(text: str) -> float:
    """Flesch-Kincaid grade: 0.39 * words/sentence + 11.8 * syllables/word - 15.59."""
    return _grade(text, text_counts(text)[1])


def _grade(text: str, total: int) -> float:
    """grade(text) given its summed token counts. Words (textstat's lexicon_count) and syllables
    (letter runs) never span whitespace, so both are sums over the whitespace-separated tokens."""
    n_words, syllables = total & ((1 << _HIGH) - 1), total >> _HIGH
    if not n_words:
        return 0.0
    n_sentences = max(1, sentence_count(text))
    return round(0.39 * n_words / n_sentences + 11.8 * syllables / n_words - 15.59, 1)


@register("readability")
class Readability(TextRule):
    summary = "Reports text harder to read than a Flesch-Kincaid school grade."
    options = {
        "grade": Opt("number", required=True, doc="highest acceptable grade (8 is plain English)"),
        "min_words": Opt("int", default=25, doc="texts shorter than this are not scored (the formula is noise on them)"),
    }
    default_level = "warning"
    default_message = "Reading grade is %s; aim for {grade} or lower."

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.grade = float(opts["grade"])
        if not 0 < self.grade <= 30:
            raise OptionError("'grade' must be between 0 and 30", ("grade",))
        self.min_words = int(opts["min_words"])

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        memo = st.norm.memo
        got = memo.get("readability")
        if got is None:  # [tokens, token counts, grade once computed]: shared by every readability rule
            got = memo["readability"] = [*text_counts(st.norm.plain), None]
        if got[0] < self.min_words:
            return
        g = got[2]
        if g is None:
            g = got[2] = _grade(st.norm.plain, got[1])
        if g > self.grade:
            yield self.finding(st, None, "", g, grade=self.grade)
