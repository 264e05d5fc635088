"""question: a fill that asks a question where its instruction asked for a statement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..normalize import normalize
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt
from ..terms import compile_terms

_SENTENCE = re.compile(r"[^.!?]*\?")


@register("question")
class Question(ContextRule):
    summary = "A slot's fill must not ask a question unless its instruction asks for one."
    options = {
        "asks": Opt("terms", default=["question", "ask", "asks", "asking", "/\\?/"], doc="words in an instruction that ask for a question"),
    }
    default_level = "error"
    default_scope = "slot"
    allowed_scopes = ("slot",)
    default_message = "%s"

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.asks = compile_terms(opts["asks"], ignorecase=True, path=("asks",))

    def check(self, message: Message) -> Iterator[Finding]:
        for st in message.texts("slot"):
            if st.slot is None or "?" not in st.original:
                continue
            instruction = message.ctx.slot_instructions.get(st.slot, "")
            if instruction and any(True for _ in self.asks.finditer(normalize(instruction))):
                continue
            m = _SENTENCE.search(st.original)
            assert m is not None  # the text holds a "?"
            start = m.start() + len(m.group()) - len(m.group().lstrip())
            asked = f"its instruction asked: {instruction}" if instruction else "a statement was asked for"
            yield self.finding(st, (start, m.end()), st.original[start : m.end()], f"{st.slot} asks a question; {asked}")
