"""Best-of-N selection: score cleaned candidates and pick one deterministically."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from review.templates import SlotSpec

_WORD = re.compile(r"[a-z0-9']+")


def _ngrams(text: str, n: int = 3) -> set[str]:
    t = " ".join(_WORD.findall(text.lower()))
    return {t[i : i + n] for i in range(max(len(t) - n + 1, 0))}


def _similarity(a: str, b: str) -> float:
    """Character-trigram Jaccard: cheap, robust to inflection, no model needed."""
    ga, gb = _ngrams(a), _ngrams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def _level(finding: Mapping) -> str:
    level = finding.get("level", "") if isinstance(finding, Mapping) else getattr(finding, "level", "")
    return str(getattr(level, "value", level)).lower()


def score_parts(text: str, findings: Sequence[Mapping], slot: SlotSpec) -> tuple[dict[str, float] | None, str]:
    """The score's parts, in the order they add up, or (None, why) when the text is disqualified.

    Weights (why): guideline warnings dominate because each one costs a reviewer's attention;
    staying within the length budget matters next; similarity to the approved examples
    rewards the house style; echoing the instruction back ("Write one warm sentence...") is a
    classic small-model failure and is penalised hard.
    """
    text = (text or "").strip()
    if not text:
        return None, "empty after cleaning"
    errors = [f for f in findings if _level(f) == "error"]
    if errors:
        return None, "error"
    words = len(text.split())
    if words > slot.max_words:
        return None, f"longer than {slot.max_words} words"
    warnings = sum(1 for f in findings if _level(f) == "warning")
    parts = {"base": 10.0, "warnings": -2.0 * warnings}
    if words < 4:  # "Welcome!" is within budget but says nothing the fallback does not
        parts["too_short"] = -2.0
    # Prefer a fuller sentence up to ~80% of the budget, without rewarding padding beyond it.
    parts["length"] = min(words / max(slot.max_words * 0.8, 1.0), 1.0)
    if slot.examples:
        parts["house_style"] = 2.0 * max(_similarity(text, ex) for ex in slot.examples)
        # Copying an example verbatim is not personalisation.
        if any(_similarity(text, ex) > 0.9 for ex in slot.examples):
            parts["copies_example"] = -3.0
    if _similarity(text, slot.instruction) > 0.45:
        parts["echoes_instruction"] = -5.0
    if not text.endswith((".", "!", "?")):
        parts["no_full_stop"] = -0.5
    return parts, ""


def total(parts: Mapping[str, float]) -> float:
    """The parts added in order (the same arithmetic every time), rounded so ties are exact."""
    score = 0.0
    for v in parts.values():
        score += v
    return round(score, 6)


def score_candidate(text: str, findings: Sequence[Mapping], slot: SlotSpec) -> float | None:
    """None = disqualified; otherwise higher is better (score_parts says why)."""
    parts, _ = score_parts(text, findings, slot)
    return None if parts is None else total(parts)


def choose_best(candidates: Sequence[str], scores: Sequence[float | None]) -> int | None:
    """Index of the best-scoring candidate; ties go to the lowest index; None if none qualifies."""
    best: int | None = None
    best_score = 0.0
    for i, s in enumerate(scores[: len(candidates)]):
        if s is not None and (best is None or s > best_score):
            best, best_score = i, s
    return best
