"""fixed: the approved fixed copy must reach the reader unchanged around the slots."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt


def _excerpt(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@register("fixed")
class Fixed(ContextRule):
    summary = "The message must equal the fixed copy with the slot texts in place; reports where it differs."
    options = {"ignore_whitespace": Opt("bool", default=True, doc="differences only in spacing/line breaks are fine")}
    default_level = "error"
    default_scope = "fixed"
    allowed_scopes = ("fixed",)
    default_message = "Fixed copy was changed here; expected '%s'."

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.ignore_whitespace = bool(opts["ignore_whitespace"])

    def check(self, message: Message) -> Iterator[Finding]:
        ctx = message.ctx
        if not ctx.fixed_segments:
            return  # no template layout to compare with
        parts = [ctx.fixed_segments[0]]
        for i, seg in enumerate(ctx.fixed_segments[1:]):
            name = ctx.slot_sequence[i] if i < len(ctx.slot_sequence) else ""
            parts += [ctx.slots.get(name, ""), seg]
        expected, actual = "".join(parts), ctx.message
        if expected == actual or (self.ignore_whitespace and expected.split() == actual.split()):
            return
        p = 0
        limit = min(len(expected), len(actual))
        while p < limit and expected[p] == actual[p]:
            p += 1
        s = 0
        while s < limit - p and expected[-1 - s] == actual[-1 - s]:
            s += 1
        got, want = actual[p : len(actual) - s], expected[p : len(expected) - s]
        yield self.finding(None, (p, len(actual) - s), got, _excerpt(want), scope="fixed", expected=want)
