"""Slot modes: how much of a slot's text the model may write.

- `write` (the default): the model writes the sentence from the instruction and the inputs.
- `adapt`: the model lightly personalizes `base`, an approved sentence, with the declared
  inputs. A candidate that drifts from the base's meaning, or adds a number, name or claim
  that neither the base nor the inputs hold, is dropped (`adapt_problem`); when every
  candidate is dropped the slot gets the base itself, which is approved text.
- `choose`: no generation at all. The slot gets one of its approved `alternatives`, the ones
  whose `when:` conditions hold for the variant's inputs; among several, the most specific
  (most conditions) wins, then the one closest in meaning to the inputs, then the first
  listed (`choose_alternative`). None matching: the human-written fallback.

This module parses the front matter keys of the modes (called by review.templates with its
line-naming helper) and holds the pure decisions; review.generation.modes runs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import TemplateError
from .guidelines.rule import word_count

MODES = ("write", "adapt", "choose")
MAX_ALTERNATIVES = 40
# The floor of embedding similarity (all-MiniLM-L6-v2) between an adapted candidate and its
# base. Set on the tune half of the acceptance bench (README, "Writing a template"): every
# approvable adaptation there scored 0.58 or more, the drifting ones 0.46 or less.
ADAPT_SIMILARITY_FLOOR = 0.55

# Rule ids recorded for a dropped candidate (the draft page names them).
DROP_MEANING = "adapt.meaning"
DROP_NEW_FACT = "adapt.new_fact"
DROP_NEW_CLAIM = "adapt.new_claim"

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*")
# Words that claim something (superlatives, guarantees, comparisons) the base must already say.
_CLAIM_WORDS = (
    "best better busiest biggest largest greatest leading cheapest lowest fastest highest most top finest "
    "guarantee guaranteed guarantees free always never ever only first unbeatable unrivalled "
    "award award-winning winning favourite favorite famous"
)
_CLAIMS = frozenset(_CLAIM_WORDS.split(" "))
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)([A-Z][A-Za-z'’-]*)")


@dataclass(frozen=True)
class Alternative:
    """One approved text of a `choose` slot, with the input values it is meant for."""

    text: str
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, values it may take), all must hold

    def matches(self, inputs: Mapping[str, str]) -> bool:
        return all(str(inputs.get(f, "")).strip().casefold() in {v.casefold() for v in values} for f, values in self.when)


class _Fm(Protocol):
    def fail(self, msg: str, *path: str | int) -> TemplateError: ...


# ---------------------------------------------------------------------------- parsing


def mode_of(fm: _Fm, sname: str, decl: Mapping[str, Any]) -> str:
    """The slot's mode (write when not given); checked first, since it decides what is required."""
    mode = decl.get("mode", "write")
    if mode not in MODES:
        raise fm.fail(f"slot '{sname}': 'mode' must be one of {', '.join(MODES)}, not {mode!r}", "slots", sname, "mode")
    base = decl.get("base")
    if mode == "adapt" and (not isinstance(base, str) or not base.strip()):
        at = ("base",) if base is not None else ()
        raise fm.fail(f"slot '{sname}': mode adapt needs 'base', the approved sentence to personalize", "slots", sname, *at)
    max_words = decl.get("max_words")
    if mode == "adapt" and isinstance(max_words, int) and word_count(str(base)) > max_words:
        raise fm.fail(f"slot '{sname}': the base has more than max_words ({max_words}) words", "slots", sname, "base")
    return str(mode)


def parse_mode(fm: _Fm, sname: str, decl: Mapping[str, Any], inputs: Sequence[str], max_words: int) -> tuple[str, str, tuple[Alternative, ...]]:
    """(mode, base, alternatives) of one slot declaration; TemplateError naming the line."""
    mode = mode_of(fm, sname, decl)
    base = decl.get("base")
    if mode != "adapt" and base is not None:
        raise fm.fail(f"slot '{sname}': 'base' only applies to mode: adapt", "slots", sname, "base")
    if mode != "choose" and decl.get("alternatives") is not None:
        raise fm.fail(f"slot '{sname}': 'alternatives' only applies to mode: choose", "slots", sname, "alternatives")
    if mode == "adapt":
        assert isinstance(base, str)  # mode_of checked it, and its length
        if not inputs:
            raise fm.fail(f"slot '{sname}': mode adapt needs 'inputs' to personalize the base with", "slots", sname)
        return mode, base.strip(), ()
    if mode == "choose":
        return mode, "", _alternatives(fm, sname, decl.get("alternatives"), inputs, max_words)
    return mode, "", ()


def _alternatives(fm: _Fm, sname: str, raw: Any, inputs: Sequence[str], max_words: int) -> tuple[Alternative, ...]:
    if raw is None:
        raise fm.fail(f"slot '{sname}': mode choose needs 'alternatives', a list of approved texts", "slots", sname)
    if not isinstance(raw, list) or not raw:
        raise fm.fail(f"slot '{sname}': 'alternatives' must be a non-empty list of approved texts", "slots", sname, "alternatives")
    if len(raw) > MAX_ALTERNATIVES:
        raise fm.fail(f"slot '{sname}': at most {MAX_ALTERNATIVES} alternatives", "slots", sname, "alternatives")
    out = []
    for i, item in enumerate(raw):
        where = ("slots", sname, "alternatives", i)
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict) or set(item) - {"text", "when"}:
            raise fm.fail(f"slot '{sname}': alternative {i + 1} must be a text, or a mapping with 'text' and optionally 'when'", *where)
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise fm.fail(f"slot '{sname}': alternative {i + 1} needs 'text'", *where)
        if word_count(text) > max_words:
            raise fm.fail(f"slot '{sname}': alternative {i + 1} has more than max_words ({max_words}) words", *where, "text")
        out.append(Alternative(text.strip(), _when(fm, sname, i, item.get("when"), inputs)))
    return tuple(out)


def _when(fm: _Fm, sname: str, i: int, raw: Any, inputs: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    where = ("slots", sname, "alternatives", i, "when")
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        raise fm.fail(f"slot '{sname}': alternative {i + 1}: 'when' must map input fields to a value or a list of values", *where)
    conds = []
    for f, value in raw.items():
        f = str(f)
        if f not in inputs:
            declared = ", ".join(inputs) or "none"
            raise fm.fail(f"slot '{sname}': alternative {i + 1}: 'when' names '{f}', which is not one of the slot's inputs ({declared})", *where, f)
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
            raise fm.fail(f"slot '{sname}': alternative {i + 1}: 'when: {f}' must be a value or a list of values (quote yes/no)", *where, f)
        conds.append((f, tuple(str(v) for v in values)))
    return tuple(conds)


def check_enum_values(fm: _Fm, sname: str, alternatives: Sequence[Alternative], enum_values: Callable[[str], tuple[str, ...]]) -> None:
    """With a brand policy: a `when` value an enum field can never take is a typo."""
    for i, alt in enumerate(alternatives):
        for f, values in alt.when:
            allowed = enum_values(f)
            bad = [v for v in values if allowed and v not in allowed]
            if bad:
                msg = f"slot '{sname}': alternative {i + 1}: '{bad[0]}' is not a value of {f} ({', '.join(allowed)})"
                raise fm.fail(msg, "slots", sname, "alternatives", i, "when", f)


# ---------------------------------------------------------------------------- decisions


def inputs_text(inputs: Mapping[str, str]) -> str:
    """The inputs as one phrase, for comparing meaning: 'policy type: home; city: Leeds'."""
    return "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(inputs.items()) if str(v).strip())


def choose_alternative(
    alternatives: Sequence[Alternative], inputs: Mapping[str, str], similarity: Callable[[str, str], float]
) -> tuple[int | None, dict[str, Any]]:
    """(index of the chosen alternative or None, why): deterministic, no generation."""
    matching = [i for i, a in enumerate(alternatives) if a.matches(inputs)]
    if not matching:
        return None, {"matching": [], "why": "no alternative's conditions hold for these inputs"}
    most = max(len(alternatives[i].when) for i in matching)
    specific = [i for i in matching if len(alternatives[i].when) == most]
    if len(specific) == 1:
        why = "the only alternative whose conditions hold" if len(matching) == 1 else "the alternative with the most conditions that hold"
        return specific[0], {"matching": matching, "why": why}
    phrase = inputs_text(inputs)
    if not phrase:
        return specific[0], {"matching": matching, "why": "several alternatives fit; the first listed"}
    sims = {i: round(similarity(alternatives[i].text, phrase), 4) for i in specific}
    best = max(specific, key=lambda i: (sims[i], -i))  # rounded: ties exact; ties go to the first listed
    why = "several alternatives fit; the closest in meaning to the inputs"
    return best, {"matching": matching, "why": why, "similarity": {str(i): s for i, s in sims.items()}}


def _facts(text: str) -> tuple[set[str], set[str], set[str]]:
    """(numbers, capitalized names not starting a sentence, claim words) in `text`, lowercased."""
    numbers = {n.replace(",", "") for n in _NUMBER.findall(text)}
    starts = {m.start(1) for m in _SENTENCE_START.finditer(text)}
    names = {m.group().casefold() for m in _WORDS.finditer(text) if m.group()[0].isupper() and m.start() not in starts and m.group() != "I"}
    claims = {w.casefold() for w in _WORDS.findall(text) if w.casefold() in _CLAIMS}
    return numbers, names, claims


def adapt_problem(candidate: str, base: str, inputs: Mapping[str, str], similarity: float, floor: float = ADAPT_SIMILARITY_FLOOR) -> tuple[str, str] | None:
    """(rule id, why) when an adapted candidate must be dropped; None when it may compete."""
    if similarity < floor:
        return DROP_MEANING, f"drifts from the approved base (meaning similarity {similarity:.2f}, floor {floor:.2f})"
    known = " ".join([base, *(str(v) for v in inputs.values())])
    k_numbers, _, k_claims = _facts(known)
    k_words = {w.casefold() for w in _WORDS.findall(known)}
    numbers, names, claims = _facts(candidate)
    new_numbers = sorted(numbers - k_numbers)
    if new_numbers:
        return DROP_NEW_FACT, f"adds the number {new_numbers[0]}, which neither the base nor the inputs hold"
    new_names = sorted(n for n in names if n not in k_words)
    if new_names:
        return DROP_NEW_FACT, f"adds the name '{new_names[0].title()}', which neither the base nor the inputs hold"
    new_claims = sorted(claims - k_claims)
    if new_claims:
        return DROP_NEW_CLAIM, f"adds the claim word '{new_claims[0]}', which the base does not make"
    return None
