"""relevance: a fill must be about the input value it was given (a tip for home insurance that
is about business transactions is off topic)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...errors import ModelLoadError
from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt
from . import _topics
from ._topics import Topics


@register("relevance")
class Relevance(ContextRule):
    summary = "A slot's fill must come close (embedding similarity) to the topic of the input value it was given."
    options = {
        **_topics.OPTIONS,
        "min_similarity": Opt("number", default=0.2, doc="a fill scoring below this against every phrase of its value is off topic"),
    }
    default_level = "error"
    default_scope = "slot"
    allowed_scopes = ("slot",)
    default_message = "%s"

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.topics = Topics(opts)
        self.min_similarity = _topics.unit(opts["min_similarity"], "min_similarity")

    def check(self, message: Message) -> Iterator[Finding]:
        for si in self.topics.inputs(message):
            if self.topics.word_hit(si.st, si.value):
                continue  # it plainly names its topic
            try:
                score = self.topics.scores(si.st.original, [si.value])[si.value]
            except ModelLoadError as e:
                yield self.finding(si.st, None, "", f"{si.slot} was not checked for relevance: {e}", level="warning")
                continue
            if score < self.min_similarity:
                why = (
                    f"{si.slot} is off topic: it does not read as being about '{self.topics.phrase.replace('{value}', si.value)}' "
                    f"(similarity {score:.2f}, below {self.min_similarity:.2f}); {_topics.given(self.topics.field, si.value)}"
                )
                yield self.finding(si.st, None, si.st.original, why, field=self.topics.field, value=si.value, score=f"{score:.2f}")
