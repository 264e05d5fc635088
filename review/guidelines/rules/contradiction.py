"""contradiction: a fill about ANOTHER value of its input field than the one it was given (a
driving tip for a home-insurance customer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...errors import ModelLoadError
from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt
from . import _topics
from ._topics import Topics


@register("contradiction")
class Contradiction(ContextRule):
    summary = "A slot's fill must not be about another value of its input field (home vs motor vs travel)."
    options = {
        **_topics.OPTIONS,
        "margin": Opt("number", default=0.08, doc="another value must beat the given one by this much similarity to be reported"),
        "min_similarity": Opt("number", default=0.2, doc="...and score at least this itself"),
    }
    default_level = "error"
    default_scope = "slot"
    allowed_scopes = ("slot",)
    default_message = "%s"

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.topics = Topics(opts)
        self.margin = _topics.unit(opts["margin"], "margin")
        self.min_similarity = _topics.unit(opts["min_similarity"], "min_similarity")

    def check(self, message: Message) -> Iterator[Finding]:
        field = self.topics.field
        for si in self.topics.inputs(message):
            values = self.topics.values(message, si.value)
            if len(values) < 2:
                continue  # nothing to contradict: the rule knows no other value of the field
            told = _topics.given(field, si.value)
            if self.topics.word_hit(si.st, si.value):
                continue  # it plainly names its own topic
            # Words first: a fill plainly naming another value's topic (and not its own).
            other = next(((v, at) for v in values[1:] if (at := self.topics.word_hit(si.st, v))), None)
            if other is not None:
                word = si.st.original[other[1][0] : other[1][1]]
                why = f"{si.slot} is about {other[0]} ('{word}'); {told}"
                yield self.finding(si.st, other[1], word, why, field=field, value=si.value, other=other[0])
                continue
            try:
                scores = self.topics.scores(si.st.original, values)
            except ModelLoadError as e:
                yield self.finding(si.st, None, "", f"{si.slot} was not checked for contradiction: {e}", level="warning")
                continue
            own = scores[si.value]
            rival = max(values[1:], key=lambda v: scores[v])
            if scores[rival] >= self.min_similarity and scores[rival] - own >= self.margin:
                why = f"{si.slot} is about {rival} (similarity {scores[rival]:.2f} vs {own:.2f} for {si.value}); {told}"
                yield self.finding(si.st, None, si.st.original, why, field=field, value=si.value, other=rival)
