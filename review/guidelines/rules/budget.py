"""budget: how much of a message may be personalized (number of slots, share of words)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt, word_count
from ..terms import OptionError


@register("budget")
class Budget(ContextRule):
    summary = "At most N personalized slots, and at most a share of the message's words from slots."
    options = {
        "max_slots": Opt("int", doc="most slots a message may have (default: brand.yaml personalization.max_slots)"),
        "max_share": Opt("number", doc="largest share (0-1) of words from slots (default: brand.yaml personalization.max_personalized_share)"),
    }
    default_level = "error"
    allowed_scopes = ("message",)
    default_message = ""

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        max_slots = opts.get("max_slots")
        if max_slots is not None and max_slots < 0:
            raise OptionError("'max_slots' must not be negative", ("max_slots",))
        self.max_slots: int = env.max_slots if max_slots is None else max_slots
        self.max_share: float | None = opts.get("max_share")
        if self.max_share is None:
            self.max_share = env.max_share
        elif not 0 < self.max_share <= 1:
            raise OptionError("'max_share' must be above 0 and at most 1", ("max_share",))

    def check(self, message: Message) -> Iterator[Finding]:
        ctx = message.ctx
        n = len(set(ctx.slots) | set(ctx.slot_sequence))
        if n > self.max_slots:
            yield self.finding(
                None,
                None,
                "",
                n,
                scope="message",
                count=n,
                limit=self.max_slots,
                message=self.message or "The message has %s personalized slots; the brand allows at most {limit}.",
            )
        if not ctx.personalized or self.max_share is None:
            return  # a no-consent variant is all human fallback copy: nothing personalized to budget
        total = word_count(ctx.message)
        order = ctx.slot_sequence or list(ctx.slots)
        from_slots = sum(word_count(ctx.slots.get(s, "")) for s in order)
        if total and from_slots / total > self.max_share:
            share, limit = round(100 * from_slots / total), round(100 * self.max_share)
            yield self.finding(
                None,
                None,
                "",
                share,
                scope="message",
                share=share,
                limit=limit,
                message=self.message or "%s%% of the message's words are personalized; the brand allows at most {limit}%.",
            )
