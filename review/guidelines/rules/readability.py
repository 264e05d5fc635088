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


@lru_cache(maxsize=1)  # loaded once, on first use: not a cache of results
def _hyphenator() -> Any:
    # textstat's own syllable fallback; its English default needs an NLTK download we never make.
    import pyphen  # type: ignore[import-untyped]  # pyphen ships no type hints

    return pyphen.Pyphen(lang="en_US")


def _syllables(word: str) -> int:
    return len(_hyphenator().positions(word)) + 1


# textstat's word and sentence counts (0.7.x: counts.count_words / count_sentences with their
# defaults), with the same regular expressions. test_readability pins them to textstat's.
_NONCONTRACTION_APOSTROPHE = re.compile(r"\'(?![tsd]|ve|ll|re)")
_PUNCTUATION = re.compile(r"[^\w\s\']")
_TS_SENTENCE = re.compile(r"\b[^.!?]+[.!?]*")


def lexicon_count(text: str) -> int:
    """textstat.lexicon_count(text): words left after removing punctuation (contractions kept)."""
    return len(_PUNCTUATION.sub("", _NONCONTRACTION_APOSTROPHE.sub("", text)).split())


def syllable_count(text: str) -> int:
    """Syllables of every run of letters (pyphen's hyphenation points + 1 per word)."""
    return sum(map(_syllables, _LETTERS.findall(text.lower())))


def sentence_count(text: str) -> int:
    """textstat.sentence_count(text): sentences, not counting those of two words or fewer."""
    if not text:
        return 0
    sentences = _TS_SENTENCE.findall(text)
    return max(1, len(sentences) - sum(1 for s in sentences if lexicon_count(s) <= 2))


def grade(text: str) -> float:
    """Flesch-Kincaid grade: 0.39 * words/sentence + 11.8 * syllables/word - 15.59."""
    n_words = lexicon_count(text)
    if not n_words:
        return 0.0
    n_sentences = max(1, sentence_count(text))
    return round(0.39 * n_words / n_sentences + 11.8 * syllable_count(text) / n_words - 15.59, 1)


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
        text = st.norm.plain
        if len(text.split()) < self.min_words:
            return
        g = grade(text)
        if g > self.grade:
            yield self.finding(st, None, "", g, grade=self.grade)
