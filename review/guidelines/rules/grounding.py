"""grounding: a slot may only state facts it was given (numbers, and names copied from the examples)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..normalize import normalize
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt
from ..terms import OptionError

# fmt: off
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen",
            "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"
        ]
    )
}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100})
_ORDINAL_WORDS = {
    w: i + 1
    for i, w in enumerate(
        [
            "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth",
            "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"
        ]
    )
}
_ALL_WORDS = {**_NUMBER_WORDS, **_ORDINAL_WORDS}
# "one of our customers", "first, check ...", "a second look", "zero fuss" are not facts; these
# words only count as a number when a unit follows ("one year", "your first year with us").
_AMBIGUOUS = frozenset({"zero", "one", "first", "second"})
_UNITS = frozenset(
    [
        "year", "years", "yr", "yrs", "month", "months", "week", "weeks", "day", "days", "decade", "decades", "hour", "hours", "minute", "minutes",
        "anniversary", "anniversaries", "birthday", "time", "times", "policy", "policies", "claim", "claims", "renewal", "renewals", "percent", "per",
        "cent", "pounds", "dollars", "euros", "payment", "payments"
    ]
)
# Digits, with a unit or ordinal glued on ("32GB", "24h", "5km", "3rd", "90s"); a digit inside a
# word ("R1SK", "COVID19") is no number.
_DIGITS = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?:[a-z]+)?(?![\w])", re.I)
_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)*")
# A run of capitalized words ("Harbor Mutual", "Leeds", "St Albans"), possibly joined by "of"/"upon".
_NAME = re.compile(r"[A-Z][\w'\u2019-]*(?:\s+(?:(?:of|upon|on|the|de|la)\s+)?[A-Z][\w'\u2019-]*)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"\u201c(]\s*)$")
# Capitalized only because they start a sentence (or always capitalized, like "I").
_COMMON = frozenset(
    [
        "a", "about", "after", "all", "also", "always", "an", "and", "any", "are", "as", "at", "be", "before", "but", "by", "can", "check",
        "consider", "dear", "do", "don't", "during", "each", "enjoy", "even", "every", "for", "from", "get", "good", "great", "happy", "have",
        "hello", "here", "hi", "how", "i", "if", "in", "is", "it", "it's", "just", "keep", "let", "let's", "make", "many", "may", "more", "most",
        "never", "no", "not", "now", "of", "on", "once", "one", "or", "our", "please", "remember", "should", "since", "so", "stay", "take", "thank",
        "thanks", "that", "the", "their", "then", "there", "these", "this", "those", "to", "today", "try", "we", "we're", "we've", "welcome", "what",
        "when", "where", "whether", "while", "why", "will", "with", "would", "yes", "you", "you're", "you've", "your"
    ]
)
# fmt: on


def _num(token: str) -> float | None:
    token = re.sub(r"(?<=\d)[a-z]+$", "", token.lower())
    if token in _ALL_WORDS:
        return float(_ALL_WORDS[token])
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def numbers_in(text: str) -> list[tuple[int, int, float]]:
    """(start, end, value) of every number stated in `text`: digits, number words, ordinals."""
    out: list[tuple[int, int, float]] = []
    for m in _DIGITS.finditer(text):
        v = _num(m.group())
        if v is not None:
            out.append((m.start(), m.end(), v))
    found = list(_WORD.finditer(text))
    i = 0
    while i < len(found):
        m = found[i]
        low, end = m.group().lower(), m.end()
        # "twenty-one": a tens word joined by a hyphen to a unit word is one number.
        nxt = found[i + 1] if i + 1 < len(found) else None
        if (
            nxt is not None
            and text[end : nxt.start()] == "-"
            and low in _NUMBER_WORDS
            and _NUMBER_WORDS[low] >= 20
            and 0 < _ALL_WORDS.get(nxt.group().lower(), 0) < 10
        ):
            out.append((m.start(), nxt.end(), float(_NUMBER_WORDS[low] + _ALL_WORDS[nxt.group().lower()])))
            i += 2
            continue
        i += 1
        if low not in _ALL_WORDS:
            continue
        if low in _AMBIGUOUS and (nxt is None or nxt.group().lower() not in _UNITS):
            continue  # "one of our tips"; but "one year", "one-year", "first policy" count
        out.append((m.start(), end, float(_ALL_WORDS[low])))
    return sorted(out)


def _comparable(text: str) -> str:
    """How names and values are compared: normalized, lower-cased, whitespace collapsed."""
    return " ".join(normalize(text).plain.lower().split())


def names_in(text: str) -> list[str]:
    """Capitalized words and multi-word names, minus words capitalized only by sentence position."""
    out: list[str] = []
    for m in _NAME.finditer(text):
        words = m.group().split()
        if _SENTENCE_START.search(text[: m.start()]) and words[0].lower() in _COMMON:
            words = words[1:]
        while words and not words[0][:1].isupper():  # "of Leeds" after dropping "Welcome"
            words = words[1:]
        name = " ".join(words)
        if name and name.lower() not in _COMMON:
            out.append(name)
    return out


def _inner_names(text: str) -> list[tuple[int, int]]:
    """Spans of capitalized names inside sentences (a sentence's first word is never counted)."""
    out: list[tuple[int, int]] = []
    for m in _NAME.finditer(text):
        words = list(re.finditer(r"\S+", m.group()))
        if _SENTENCE_START.search(text[: m.start()]):
            words = words[1:]
        while words and not words[0].group()[:1].isupper():
            words = words[1:]
        if words:
            out.append((m.start() + words[0].start(), m.start() + words[-1].end()))
    return out


def _mentions(haystack: str, needle: str) -> int:
    at = haystack.find(needle)
    while at >= 0:
        before = haystack[at - 1] if at else " "
        end = at + len(needle)
        after = haystack[end] if end < len(haystack) else " "
        if not before.isalnum() and not after.isalnum():
            return at
        at = haystack.find(needle, at + 1)
    return -1


_CLAIM_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['\u2019][^\W\d_]+)*")


def claim_figures(wording: str) -> tuple[str, ...] | None:
    """The part of an approved claim that carries its numbers, as lower-case tokens: from its
    first number to its last ("4.8 out of 5" of "Rated 4.8 out of 5 by our customers"), with a
    word on each side when the claim has a single number ("over 50 years"). None: no number."""
    toks = [m.group().lower() for m in _CLAIM_TOKEN.finditer(normalize(wording).plain)]
    at = [i for i, t in enumerate(toks) if t[0].isdigit() or (t in _ALL_WORDS and t not in _AMBIGUOUS)]
    if not at:
        return None
    first, last = at[0], at[-1]
    if first == last:
        first, last = max(first - 1, 0), min(last + 1, len(toks) - 1)
    return tuple(toks[first : last + 1])


def quoted_claims(plain: str, figures: list[tuple[str, tuple[str, ...]]]) -> list[tuple[int, int, str]]:
    """(start, end, claim id) of each place `plain` quotes an approved claim's figures word for word."""
    found = list(_CLAIM_TOKEN.finditer(plain))
    toks = [m.group().lower() for m in found]
    out = []
    for cid, fig in figures:
        n = len(fig)
        for i in range(len(toks) - n + 1):
            if tuple(toks[i : i + n]) == fig:
                out.append((found[i].start(), found[i + n - 1].end(), cid))
    return out


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


@register("grounding")
class Grounding(ContextRule):
    summary = "A slot may only state numbers its data gives, and must not copy names from the template's examples."
    options = {
        "allow_numbers": Opt("strlist", default=[], doc="numbers any slot may state (e.g. '24' for '24 hours')"),
        "allow_names": Opt("strlist", default=[], doc="names any slot may use even if an example has them"),
        "check_numbers": Opt("bool", default=True, doc="report numbers the slot's data does not give"),
        "check_examples": Opt("bool", default=True, doc="report names copied from the slot's examples"),
        "other_names": Opt(
            "str",
            default="off",
            doc="level (error, warning, suggestion or off) for a capitalized name inside a sentence that comes from "
            "neither the slot's data, its examples, the template's copy nor the brand's vocabulary (a made-up place)",
        ),
    }
    default_level = "error"
    default_scope = "slot"
    allowed_scopes = ("slot",)
    default_message = "%s"

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.allow_numbers = {v for n in opts["allow_numbers"] for _, _, v in numbers_in(str(n))}
        self.check_numbers = bool(opts["check_numbers"])
        self.check_examples = bool(opts["check_examples"])
        self.other_names = str(opts["other_names"]).lower()
        if self.other_names not in ("error", "warning", "suggestion", "off"):
            raise OptionError("'other_names' must be error, warning, suggestion or off", ("other_names",))
        known = [*opts["allow_names"], *env.accept, env.brand.replace("-", " ")]
        known += [c.wording for c in env.claims]
        self.known = [_comparable(k) for k in known if k]
        # Numbers a slot quotes from an ACTIVE approved claim are grounded by the claim (a retired
        # claim, or one past its valid_until on the day of the check, grounds nothing; the claims
        # rule reports its use).
        self.claim_figures = [(c.id, fig) for c in env.claims if c.status == "active" and (fig := claim_figures(c.wording))]
        self.claims_by_id = {c.id: c for c in env.claims}

    def check(self, message: Message) -> Iterator[Finding]:
        ctx = message.ctx
        fixed: str | None = None  # the template's own copy, compared only where a name needs it
        known_values: list[str] | None = None  # the recipient's values, likewise
        for st in message.texts("slot"):
            if not st.original or st.slot is None:
                continue
            given = {k: str(v) for k, v in (ctx.slot_inputs.get(st.slot) or {}).items() if v not in (None, "")}
            says = ", ".join(f"{k}={v}" for k, v in sorted(given.items()))
            data = f"the recipient's data says {says}" if says else "this slot was given no data"
            examples = ctx.slot_examples.get(st.slot) or []
            plain = st.norm.plain
            if self.check_numbers:
                allowed = set(self.allow_numbers)
                for v in given.values():
                    allowed.update(n for _, _, n in numbers_in(normalize(v).plain))
                in_force = [(cid, fig) for cid, fig in self.claim_figures if self.claims_by_id[cid].in_force(ctx.today)]
                quoted = quoted_claims(plain, in_force) if in_force else []
                for start, end, value in numbers_in(plain):
                    if value in allowed or any(s <= start and end <= e for s, e, _ in quoted):
                        continue
                    example_numbers = {n for ex in examples for _, _, n in numbers_in(normalize(ex).plain)}
                    span = st.norm.span(start, end)
                    match = st.original[span[0] : span[1]]
                    source = "copied from an example" if value in example_numbers else "not in this slot's data"
                    why = f"states '{match}' ({source}); {data}"
                    yield self.finding(st, span, match, why, given=says, value=_fmt(value))
            low = plain.lower()
            if len(low) != len(plain):
                low = st.norm.folded
            given_values = [_comparable(v) for v in given.values()]
            seen: set[str] = set()
            if self.check_examples and examples:
                for ex in examples:
                    for name in names_in(normalize(ex).plain):
                        key = _comparable(name)
                        if not key or key in seen:
                            continue
                        seen.add(key)
                        at = _mentions(low, key)
                        if at < 0:
                            continue
                        if any(_mentions(g, key) >= 0 for g in given_values) or any(_mentions(k, key) >= 0 for k in self.known):
                            continue
                        if fixed is None:
                            fixed = _comparable(" ".join([*ctx.fixed_segments, ctx.subject]))
                        if _mentions(fixed, key) >= 0:  # the template's own copy says it: house wording
                            continue
                        span = st.norm.span(at, at + len(key))
                        match = st.original[span[0] : span[1]]
                        why = f"copied '{match}' from an example; {data}"
                        yield self.finding(st, span, match, why, given=says, example=ex)
            if self.other_names != "off":
                for start, end in _inner_names(plain):
                    name = plain[start:end]
                    key = _comparable(name)
                    if not key or key in seen or key in _COMMON or name.isupper() or any(c.isdigit() for c in name):
                        continue  # all capitals (an acronym, or shouting: another rule's business)
                    if known_values is None:
                        known_values = [_comparable(str(v)) for v in ctx.recipient.values() if v]
                    # A recipient value it was not given is the leak rule's finding, not a made-up name.
                    if any(_mentions(v, key) >= 0 for v in known_values):
                        continue
                    if any(_mentions(g, key) >= 0 for g in given_values) or any(_mentions(k, key) >= 0 for k in self.known):
                        continue
                    if fixed is None:
                        fixed = _comparable(" ".join([*ctx.fixed_segments, ctx.subject]))
                    if _mentions(fixed, key) >= 0 or any(_mentions(_comparable(ex), key) >= 0 for ex in examples):
                        continue
                    span = st.norm.span(start, end)
                    match = st.original[span[0] : span[1]]
                    why = f"names '{match}', which nothing this slot was given says; {data}"
                    yield self.finding(st, span, match, why, level=self.other_names, given=says)
