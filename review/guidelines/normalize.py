"""Text normalization that cannot be dodged, with a map back to the original characters.

Two views are produced, both the same length so one offset map serves both:
`plain` (compatibility-folded, invisibles removed, look-alike letters, dashes, quotes and
spaces folded to ASCII, case kept) and `folded` (plain, lower-cased, with leetspeak digits
inside words read as letters and underscores read as spaces, so "risk_free" is "risk free").
In both, a word spelled out with spaces between its letters ("g u a r a n t e e d", three
letters or more) is read as the word. Spans found in either view map back with `Normalized.span`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

# Look-alike letters from other scripts (and a few Latin oddities NFKD keeps).
_CONFUSABLES = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "ɡ": "g",
    "һ": "h",
    "ӏ": "l",
    "ь": "b",
    "А": "A",
    "В": "B",
    "Е": "E",
    "Ё": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "У": "Y",
    "Х": "X",
    "Ѕ": "S",
    "І": "I",
    "Ї": "I",
    "Ј": "J",
    "Ԁ": "D",
    "Ԛ": "Q",
    "Ԝ": "W",
    "Ӏ": "I",
    "Ь": "b",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "σ": "o",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ϲ": "c",
    "Α": "A",
    "Β": "B",
    "Ε": "E",
    "Ζ": "Z",
    "Η": "H",
    "Ι": "I",
    "Κ": "K",
    "Μ": "M",
    "Ν": "N",
    "Ο": "O",
    "Ρ": "P",
    "Τ": "T",
    "Υ": "Y",
    "Χ": "X",
    # Latin letters without a decomposition
    "ı": "i",
    "ł": "l",
    "Ł": "L",
    "ø": "o",
    "Ø": "O",
    "đ": "d",
    "Đ": "D",
    "ħ": "h",
    "ŧ": "t",
    "ſ": "s",
    "ɑ": "a",
    "ɩ": "i",
    "ʟ": "L",
    "ᴀ": "A",
    # Dashes and minus
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2043": "-",
    "\u2212": "-",
    "\ufe58": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    # Quotes
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    # Line breaks
    "\u2028": "\n",
    "\u2029": "\n",
    "\x85": "\n",
}

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "2": "z", "6": "g"})
# A letter next to a leet character: only then is a token worth a closer look (cheap pre-screen).
# Written to start at the (rare) leet character, so the engine skips ahead to it instead of
# trying the pattern at every letter: same matches as r"[a-z][0-9@$]|[0-9@$][a-z]" (existence).
_LEET_HINT = re.compile(r"[0-9@$](?:(?<=[a-z][0-9@$])|(?=[a-z]))")
# A whole run of letters and leet characters that holds a leet character (runs of letters alone
# never change, so they are not handed to the Python callback at all).
_LEET_TOKEN = re.compile(r"(?<![a-z0-9@$])[a-z0-9@$]*[0-9@$][a-z0-9@$]*")
# Three or more single letters in a row, separated by spaces: a word spelled out to dodge a
# rule ("r i s k"). Ordinary prose never has three one-letter words in a row.
_SPACED = re.compile(r"(?<![^\W\d_])(?<!')[^\W\d_](?: +[^\W\d_]){2,}(?![^\W\d_])")
# A cheap pre-screen (a literal first character lets the engine skip ahead): no one-letter word
# followed by another, no spelled-out word. Searched in " " + text so a run can start the text.
_SPACED_HINT = re.compile(r" [^\W\d_] +[^\W\d_] ")
# Ordinals and units ("1st", "5mg", "10am") are real numbers, not disguised letters.
_NUMBER_WITH_UNIT = re.compile(r"\d+[a-z]{1,3}|\d+(?:st|nd|rd|th)")
_WORD = re.compile(r"\w+")


def _fold_char(ch: str) -> str:
    """What one non-ASCII character becomes in the plain view ('' when it is invisible)."""
    if ch in _CONFUSABLES:
        return _CONFUSABLES[ch]
    cat = unicodedata.category(ch)
    if cat == "Cf":  # zero-width space/joiners, soft hyphen, word joiner, BOM, bidi controls
        return ""
    if cat == "Zs":
        return " "
    out = []
    for c in unicodedata.normalize("NFKD", ch):
        if unicodedata.category(c) in ("Mn", "Mc", "Me"):
            continue  # accents: "rïsk" reads as "risk"
        c = _CONFUSABLES.get(c, c)
        if c != " " and unicodedata.category(c) == "Zs":
            c = " "
        out.append(c)
    return "".join(out)


def _unleet_token(m: re.Match[str]) -> str:
    tok = m.group(0)
    if sum(c.isalpha() for c in tok) < 2 or _NUMBER_WITH_UNIT.fullmatch(tok):
        return tok
    return tok.translate(_LEET)


def fold_leet(lower: str) -> str:
    """Read digits inside words as the letters they imitate ("r1sk" -> "risk"); length-preserving."""
    if not _LEET_HINT.search(lower):
        return lower
    return _LEET_TOKEN.sub(_unleet_token, lower)


@dataclass(frozen=True)
class Normalized:
    """A text's matching views and the map from view offsets back to original offsets."""

    original: str
    plain: str
    folded: str
    starts: list[int] | None = None  # None: the views line up with the original 1:1
    ends: list[int] | None = None

    @cached_property
    def tokens(self) -> frozenset[str]:
        """The words of the folded view: a term list skips a text holding none of its anchor words."""
        return frozenset(_WORD.findall(self.folded))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span in a view back to the original text."""
        if self.starts is None or self.ends is None:
            return (start, end)
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return (pos, pos)
        return (self.starts[start], self.ends[end - 1])


def _lower(plain: str) -> str:
    low = plain.lower()
    if len(low) == len(plain):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in plain)  # keep views aligned


def _despace(text: str, plain: str, folded: str, starts: list[int] | None, ends: list[int] | None) -> Normalized:
    """Drop the spaces inside spelled-out words from both views (and the offset maps)."""
    drop: set[int] = set()
    if _SPACED_HINT.search(" " + folded + " ") is None:
        return Normalized(text, plain, folded, starts, ends)
    for m in _SPACED.finditer(folded):
        start = m.start()
        # "a r i s k" is "a risk": a leading "a" or "i" before three or more letters is read as
        # the article or pronoun it usually is (so "a p p r o v e d" reads "a pproved": a known gap).
        if folded[start] in "ai" and len(m.group().replace(" ", "")) >= 4:
            start = folded.index(" ", start)
            start = next(i for i in range(start, m.end()) if folded[i] != " ")
        drop.update(i for i in range(start, m.end()) if folded[i] == " ")
    if not drop:
        return Normalized(text, plain, folded, starts, ends)
    if starts is None or ends is None:
        starts, ends = list(range(len(plain))), list(range(1, len(plain) + 1))
    keep = [i for i in range(len(plain)) if i not in drop]
    return Normalized(
        text,
        "".join(plain[i] for i in keep),
        "".join(folded[i] for i in keep),
        [starts[i] for i in keep],
        [ends[i] for i in keep],
    )


def normalize(text: str) -> Normalized:
    """Both views of `text` and the map back to it (a Message normalizes each scope text once)."""
    if text.isascii():
        return _despace(text, text, fold_leet(text.lower()).replace("_", " "), None, None)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        rep = ch if ch < "\x80" else _fold_char(ch)
        for c in rep:
            out.append(c)
            starts.append(i)
            ends.append(i + 1)
    plain = "".join(out)
    return _despace(text, plain, fold_leet(_lower(plain)).replace("_", " "), starts, ends)


def fold(text: str) -> str:
    """The folded view of a short text (a term, a value) for comparison."""
    return normalize(text).folded
