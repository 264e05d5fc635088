"""repetition: a phrase said twice in one text ("get your driver's license ... get your driver's
licenses"), or a word doubled ("the the")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import OptionError

_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
# Phrases made only of these repeat in any sentence ("of the", "you can"): not worth a finding.
_FUNCTION = frozenset([
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "by", "with", "from", "as", "is", "are", "be", "it",
    "its", "this", "that", "you", "your", "we", "our", "us", "they", "their", "them", "he", "she", "his", "her", "i", "me", "my",
    "can", "will", "may", "if", "so", "not", "no", "do", "does", "have", "has", "was", "were",
])  # fmt: skip


def _stem(word: str) -> str:
    """Lower case, possessive and plural folded: "licenses", "license's" and "license" are one word."""
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w


@register("repetition")
class Repetition(TextRule):
    summary = "A phrase of several words used twice in one text, or a word written twice in a row."
    options = {
        "min_words": Opt("int", default=3, doc="the shortest repeated phrase reported (words, at least one not a function word)"),
        "doubled_words": Opt("bool", default=True, doc="also report a word written twice in a row ('the the')"),
    }
    default_level = "error"
    default_scope = "slot"
    default_message = "%s"

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.min_words = int(opts["min_words"])
        if self.min_words < 2:
            raise OptionError("'min_words' must be at least 2", ("min_words",))
        self.doubled = bool(opts["doubled_words"])

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        text = st.original
        toks = list(_TOKEN.finditer(text))
        stems = [_stem(m.group()) for m in toks]
        if self.doubled:
            for i in range(1, len(toks)):
                if (
                    stems[i] == stems[i - 1]
                    and toks[i].group().lower() == toks[i - 1].group().lower()
                    and text[toks[i - 1].end() : toks[i].start()].strip() == ""
                ):
                    span = (toks[i - 1].start(), toks[i].end())
                    yield self.finding(st, span, text[span[0] : span[1]], f"'{toks[i].group()}' is written twice in a row")
        n = self.min_words
        first: dict[tuple[str, ...], int] = {}
        i = 0
        while i + n <= len(stems):
            gram = tuple(stems[i : i + n])
            if gram in first and first[gram] + n <= i and not all(w in _FUNCTION for w in gram):
                j, k = first[gram], n  # grow the repeat as far as it goes
                while i + k < len(stems) and j + k < i and stems[j + k] == stems[i + k]:
                    k += 1
                span = (toks[i].start(), toks[i + k - 1].end())
                said = text[toks[j].start() : toks[j + k - 1].end()]
                yield self.finding(st, span, text[span[0] : span[1]], f"repeats '{said}'")
                i += k
                continue
            first.setdefault(gram, i)
            i += 1
