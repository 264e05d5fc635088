"""length: word limit per slot (from the template's max_words, or a fixed number)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt, words
from ..terms import OptionError


@register("length")
class Length(ContextRule):
    summary = "Each slot's text must stay within its word limit."
    options = {"max_words": Opt("int", doc="limit for every slot (default: each slot's max_words from the template)")}
    default_level = "error"
    default_scope = "slot"
    allowed_scopes = ("slot",)
    default_message = "%s words; the limit for this slot is {limit}."

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.max_words = opts.get("max_words")
        if self.max_words is not None and self.max_words < 1:
            raise OptionError("'max_words' must be at least 1", ("max_words",))

    def check(self, message: Message) -> Iterator[Finding]:
        ctx = message.ctx
        for slot, text in sorted(ctx.slots.items()):
            limit = self.max_words if self.max_words is not None else ctx.slot_max_words.get(slot)
            if limit is None or not text:
                continue
            found = words(text)
            if len(found) > limit:
                span = (found[limit].start(), found[-1].end())
                yield self.finding(None, span, text[span[0] : span[1]], len(found), scope="slot", slot=slot, limit=limit)
