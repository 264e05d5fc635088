"""Shared by `relevance` and `contradiction`: what a slot input's value is about, and how close a
fill comes to it.

Raw similarity between a fill and its instruction says little with a small embedding model (a
home-insurance instruction scored 0.24 against a driving-licence sentence and 0.15 against a
smoke-alarm tip). The value phrased as a topic separates them better ("home insurance": 0.21 vs
0.11), and a few phrases describing the topic better still; a value's score is the best of its
phrases. Words that plainly name a topic ("driving licence" for motor) back the embedding up
where it is unsure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..rule import Message, Opt, ScopeText
from ..terms import OptionError, TermSet, compile_terms

OPTIONS = {
    "field": Opt("str", required=True, doc="the slot input this rule judges (e.g. policy_type); slots not given it are skipped"),
    "phrase": Opt("str", default="{value}", doc="how a value reads as a topic, e.g. '{value} insurance'"),
    "topics": Opt("termmap", default={}, doc="extra phrases describing each value (value: [phrases]); a value's score is its best phrase"),
    "words": Opt("termmap", default={}, doc="words or /regex/ that plainly say a fill is about a value (value: [words])"),
}


@dataclass(frozen=True)
class SlotInput:
    """One slot's text with the value it was given for the rule's field."""

    st: ScopeText
    value: str

    @property
    def slot(self) -> str:
        return self.st.slot or ""


class Topics:
    """Compiled topic options of one rule instance."""

    def __init__(self, opts: dict[str, Any]):
        self.field = str(opts["field"]).strip()
        if not self.field:
            raise OptionError("'field' must name a slot input, e.g. policy_type", ("field",))
        self.phrase = str(opts["phrase"])
        if "{value}" not in self.phrase:
            raise OptionError("'phrase' must contain {value}, e.g. '{value} insurance'", ("phrase",))
        self.extra: dict[str, list[str]] = {k.lower(): list(v) for k, v in opts["topics"].items()}
        self.words: dict[str, TermSet] = {k.lower(): compile_terms(v, ignorecase=True, path=("words", k)) for k, v in opts["words"].items()}

    def inputs(self, message: Message) -> Iterator[SlotInput]:
        """Each non-empty slot given this rule's field, with the value it was given."""
        ctx = message.ctx
        for st in message.texts("slot"):
            if st.slot is None or not st.original.strip():
                continue
            value = str((ctx.slot_inputs.get(st.slot) or {}).get(self.field) or "").strip()
            if value:
                yield SlotInput(st, value)

    def phrases(self, value: str) -> list[str]:
        return [self.phrase.replace("{value}", value), *self.extra.get(value.lower(), [])]

    def values(self, message: Message, given: str) -> list[str]:
        """The given value first, then every other value of the field the rule can compare:
        brand.yaml's enum values and the values the rule's `topics` and `words` describe."""
        declared = message.ctx.field_values.get(self.field, ())
        named = [k for k in [*self.extra, *self.words] if k != given.lower()]
        return list(dict.fromkeys([given, *(v for v in declared if v.lower() != given.lower()), *named]))

    def scores(self, text: str, values: list[str]) -> dict[str, float]:
        """The fill's best similarity to each value's phrases (one batch through the embedder)."""
        from review.embedding import cosine, get_embedder

        phrases = {v: self.phrases(v) for v in values}
        flat = [text, *(p for ps in phrases.values() for p in ps)]
        vecs = get_embedder().encode(flat)
        fill, out, i = vecs[0], {}, 1
        for v, ps in phrases.items():
            out[v] = max(cosine(fill, vecs[i + k]) for k in range(len(ps)))
            i += len(ps)
        return out

    def word_hit(self, st: ScopeText, value: str) -> tuple[int, int] | None:
        """Where the fill first plainly names `value`'s topic (one of its `words`), or None."""
        terms = self.words.get(value.lower())
        if terms is None:
            return None
        for _, start, end in terms.finditer(st.norm):
            return start, end
        return None


def unit(value: Any, key: str) -> float:
    """A similarity threshold or margin, checked to lie in [-1, 1]."""
    v = float(value)
    if not -1.0 <= v <= 1.0:
        raise OptionError(f"'{key}' must be a similarity between -1 and 1, not {v}", (key,))
    return v


def given(field: str, value: str) -> str:
    return f"the slot was given {field}={value}"
