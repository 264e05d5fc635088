"""The machine-readable AI-generated-content marker of a message, per slot and per message.

Vocabulary (README, "The examiner's record"): each slot and each message carries an IPTC
Digital Source Type URI (http://cv.iptc.org/newscodes/digitalsourcetype/), the vocabulary C2PA
requires in its `c2pa.created` action, and the message carries a C2PA-style `c2pa.actions`
assertion (the same names and fields, as plain JSON: it is not a signed C2PA manifest).

- a slot the model wrote (`source: model`, in `write` or `adapt` mode) is
  `trainedAlgorithmicMedia`;
- a slot a person typed over (`edited`) is `humanEdits`, and says whether the text it replaced
  was the model's;
- approved human-written text (`fallback`, `no_consent`, `base`, a `choose` slot's
  `alternative`) is `digitalCreation`;
- a message is `compositeWithTrainedAlgorithmicMedia` when any slot is model-written (the fixed
  copy around it is human-written), else `humanEdits` when a person edited model text, else
  `digitalCreation`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
COMPOSITE = IPTC + "compositeWithTrainedAlgorithmicMedia"
HUMAN_EDITS = IPTC + "humanEdits"
HUMAN = IPTC + "digitalCreation"

MODEL_SOURCES = frozenset({"model"})
HUMAN_SOURCES = frozenset({"fallback", "no_consent", "base", "alternative"})
# Keys the generator writes into a slot's meta only when the model produced its text; an
# edit keeps them (workflow.edit_draft merges), so they say the replaced text was the model's.
_MODEL_TRACES = ("chosen", "score")


def slot_marker(name: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    """One slot's marker: who wrote its text, in the IPTC vocabulary."""
    source = str(meta.get("source") or "unknown")
    out: dict[str, Any] = {"slot": name, "source": source, "mode": meta.get("mode", "write")}
    if source in MODEL_SOURCES:
        out.update(model_written=True, digital_source_type=TRAINED)
    elif source == "edited":
        out.update(
            model_written=False,
            digital_source_type=HUMAN_EDITS,
            edited_by=meta.get("edited_by", ""),
            replaced_model_text=any(k in meta for k in _MODEL_TRACES),
        )
    elif source in HUMAN_SOURCES:
        out.update(model_written=False, digital_source_type=HUMAN)
    else:  # a source this version does not know: say so rather than guess
        out.update(model_written=None, digital_source_type="http://c2pa.org/digitalsourcetype/empty")
    for key in ("seed", "prompt_fingerprint", "fell_back", "alternative"):
        if key in meta:
            out[key] = meta[key]
    return out


def message_marker(slot_names: Iterable[str], slot_meta: Mapping[str, Any], *, model_fingerprint: str, model_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The marker every message of one variant carries (they share the slot texts)."""
    slots = [slot_marker(n, slot_meta.get(n) or {}) for n in slot_names]
    model = [s["slot"] for s in slots if s["model_written"]]
    edited_model = [s["slot"] for s in slots if s.get("replaced_model_text")]
    unknown = [s["slot"] for s in slots if s["model_written"] is None]
    if model:
        kind = COMPOSITE
    elif edited_model:
        kind = HUMAN_EDITS
    else:
        kind = HUMAN
    actions: list[dict[str, Any]] = [
        {"action": "c2pa.created", "digitalSourceType": HUMAN, "parameters": {"description": "fixed copy of the template version"}}
    ]
    for s in slots:
        if s["model_written"]:
            actions.append(
                {
                    "action": "c2pa.created",
                    "digitalSourceType": TRAINED,
                    "softwareAgent": {"name": "local language model", "model_fingerprint": model_fingerprint},
                    "parameters": {"slot": s["slot"], "seed": s.get("seed"), "prompt_fingerprint": s.get("prompt_fingerprint")},
                }
            )
        elif s["source"] == "edited":
            actions.append({"action": "c2pa.edited", "digitalSourceType": HUMAN_EDITS, "parameters": {"slot": s["slot"], "by": s.get("edited_by", "")}})
        else:
            actions.append({"action": "c2pa.placed", "digitalSourceType": s["digital_source_type"], "parameters": {"slot": s["slot"], "source": s["source"]}})
    return {
        "ai_generated": bool(model),
        "digital_source_type": kind,
        "model_written_slots": model,
        "human_written_slots": [s["slot"] for s in slots if s["model_written"] is False and s["slot"] not in edited_model],
        "human_edited_model_slots": edited_model,
        "unknown_source_slots": unknown,
        "model": {"fingerprint": model_fingerprint, "settings": dict(model_settings)} if model or edited_model else None,
        "human_reviewed": True,  # only signed drafts ship (the signatures are in the draft's file)
        "slots": slots,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
        "vocabulary": IPTC,
    }


def per_message(marker: Mapping[str, Any]) -> dict[str, Any]:
    """The short form repeated on each shipped message (the full marker sits on its variant)."""
    return {"ai_generated": marker["ai_generated"], "digital_source_type": marker["digital_source_type"], "model_written_slots": marker["model_written_slots"]}


def shipped_signed(revision: int, signatures: Iterable[tuple[int, bool, str]]) -> bool:
    """Whether the shipped revision carries a signature that stood when it shipped: one still
    valid, or one voided only by a later withdrawal."""
    return any(rev == revision and (valid or reason == "withdrawn") for rev, valid, reason in signatures)
