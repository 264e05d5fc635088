"""The slot modes at generation time (review.slot_modes says what each mode means).

- `choose_fill`: a `choose` slot's approved alternative for a variant's inputs, or its fallback;
  no model call, so nothing to sample or cache, and the same inputs always give the same text.
- `adapt_drop`: why an `adapt` candidate is dropped before it is scored (meaning drifted from
  the base, or a number, name or claim appeared that the base and inputs lack).
- `judge`: the one candidate judgement every mode that samples shares: cleaned candidate ->
  dropped with a rule id, or scored with its parts. `select_fill` (pipeline) runs it.

Every decision is recorded in the slot's meta, which the draft page shows in words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..embedding import get_embedder
from ..filling.scoring import score_parts, total
from ..slot_modes import ADAPT_SIMILARITY_FLOOR, adapt_problem, choose_alternative
from ..templates import SlotSpec

MAX_SHOWN_CHARS = 240  # a dropped candidate's text as kept in the meta


def similarity(a: str, b: str) -> float:
    """Meaning similarity of two texts (the bundled sentence-embedding model)."""
    return get_embedder().similarity(a, b)


def choose_fill(slot: SlotSpec, inputs: Mapping[str, str], sim: Callable[[str, str], float] | None = None) -> tuple[str, dict[str, Any]]:
    """(text, meta) for a `choose` slot: an approved alternative, or the fallback when none fits."""
    idx, why = choose_alternative(slot.alternatives, inputs, sim or similarity)
    if idx is None:
        return slot.fallback, {"source": "fallback", "mode": "choose", "fell_back": why["why"]}
    return slot.alternatives[idx].text, {"source": "alternative", "mode": "choose", "alternative": idx, **why}


def adapt_drop(
    slot: SlotSpec, text: str, inputs: Mapping[str, str], sim: Callable[[str, str], float] | None = None, floor: float | None = None
) -> tuple[str, str] | None:
    """(rule id, why) when an adapted candidate may not compete; None when it may. `floor`: the
    brand's `adapt_min_similarity` (None: the default)."""
    score = round((sim or similarity)(text, slot.base), 4)
    return adapt_problem(text, slot.base, inputs, score, ADAPT_SIMILARITY_FLOOR if floor is None else floor)


def judge(
    slot: SlotSpec,
    cleaned: Sequence[str],
    inputs: Mapping[str, str],
    findings_of: Callable[[str], list[dict[str, Any]]],
    adapt_floor: float | None = None,
) -> tuple[list[float | None], list[dict[str, Any]], list[dict[str, float] | None]]:
    """(score per candidate or None, the dropped ones with rule and why, score parts per candidate)."""
    scores: list[float | None] = []
    dropped: list[dict[str, Any]] = []
    parts_all: list[dict[str, float] | None] = []

    def drop(i: int, text: str, rule: str, why: str) -> None:
        scores.append(None)
        parts_all.append(None)
        dropped.append({"candidate": i, "text": text[:MAX_SHOWN_CHARS], "rule": rule, "why": why})

    for i, text in enumerate(cleaned):
        if not text:
            drop(i, text, "cleaning", "nothing usable was left after cleaning the model's output")
            continue
        if slot.mode == "adapt":
            problem = adapt_drop(slot, text, inputs, floor=adapt_floor)
            if problem is not None:
                drop(i, text, *problem)
                continue
        findings = findings_of(text)
        parts, why = score_parts(text, findings, slot)
        if parts is None:
            errors = [f for f in findings if str(getattr(f.get("level"), "value", f.get("level"))).lower() == "error"]
            if errors:
                drop(i, text, str(errors[0].get("rule", "error")), str(errors[0].get("message", "an error finding")))
            else:
                drop(i, text, "length" if why.startswith("longer") else "cleaning", why)
            continue
        scores.append(total(parts))
        parts_all.append(parts)
    return scores, dropped, parts_all


def fell_back(slot: SlotSpec, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """When no candidate qualified: an adapt slot keeps its approved base, any other its fallback."""
    n = meta.get("candidates", 0)
    why = f"none of the {n} candidates qualified" if n else "the model gave no candidates"
    if slot.mode == "adapt":
        return slot.base, {**meta, "source": "base", "model_failed": True, "fell_back": f"{why}; the approved base is used unchanged"}
    return slot.fallback, {**meta, "source": "fallback", "model_failed": True, "fell_back": f"{why}; the human-written fallback is used"}
