"""leak: a slot must not mention recipient data it was not given (the model saw more than it should use)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..normalize import normalize
from ..registry import register
from ..rule import BrandEnv, ContextRule, Message, Opt
from ..terms import OptionError

# Values too common to count as a leak when they show up in ordinary prose.
COMMON_VALUES = frozenset(
    [
        "yes",
        "no",
        "true",
        "false",
        "none",
        "null",
        "n/a",
        "na",
        "unknown",
        "other",
        "email",
        "e-mail",
        "sms",
        "text",
        "post",
        "mail",
        "phone",
        "letter",
        "app",
        "male",
        "female",
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "single",
        "married",
        "home",
        "car",
        "life",
        "travel",
        "pet",
        "standard",
        "basic",
        "premium",
        "gold",
    ]
)


def _comparable(text: str) -> str:
    """Normalized, lower-cased, whitespace-collapsed: how values and slot text are compared."""
    return " ".join(normalize(text).plain.lower().split())


def _mentions(haystack: str, needle: str) -> int:
    """Offset of `needle` in `haystack` at word boundaries, or -1."""
    at = haystack.find(needle)
    while at >= 0:
        before = haystack[at - 1] if at else " "
        after = haystack[at + len(needle)] if at + len(needle) < len(haystack) else " "
        if not before.isalnum() and not after.isalnum():
            return at
        at = haystack.find(needle, at + 1)
    return -1


@register("leak")
class Leak(ContextRule):
    summary = "A slot's text must not mention a recipient value whose field was not given to that slot."
    options = {
        "min_length": Opt("int", default=3, doc="values shorter than this are ignored"),
        "ignore_fields": Opt("strlist", default=[], doc="recipient fields never checked"),
        "ignore_values": Opt("strlist", default=[], doc="values too common to matter (added to a built-in list)"),
    }
    default_level = "error"
    default_scope = "slot"
    allowed_scopes = ("slot",)
    default_message = "Mentions the recipient's {field} ('%s'), which this slot was not given."

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.min_length = int(opts["min_length"])
        if self.min_length < 1:
            raise OptionError("'min_length' must be at least 1", ("min_length",))
        self.ignore_fields = frozenset(opts["ignore_fields"])
        self.ignore_values = COMMON_VALUES | {_comparable(v) for v in opts["ignore_values"]}

    def check(self, message: Message) -> Iterator[Finding]:
        ctx = message.ctx
        values = self._values(ctx.recipient)
        if not values:
            return
        for st in message.texts("slot"):
            if not st.original or st.slot is None:
                continue
            given = ctx.slot_inputs.get(st.slot) or {}
            given_values: set[str] | None = None  # worked out where a value is found
            norm = st.norm
            low = norm.plain.lower()
            if len(low) != len(norm.plain):
                low = norm.folded
            found: list[tuple[int, int, str]] = []
            for field, v in values:
                at = -1 if field in given else _mentions(low, v)
                if at < 0:
                    continue
                if given_values is None:
                    given_values = {_comparable(x) for x in given.values() if x}
                if v in given_values:  # a value the slot was given is fine
                    continue
                start, end = norm.span(at, at + len(v))
                found.append((start, end, field))
            for start, end, field in found:
                # "maria" inside a leaked "maria@example.com" is the same leak, reported once.
                if any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in found):
                    continue
                match = st.original[start:end]
                yield self.finding(None, (start, end), match, match, scope="slot", slot=st.slot, field=field)

    def _values(self, recipient: dict[str, Any]) -> list[tuple[str, str]]:
        """(field, comparable value) for every recipient value worth looking for, by field name."""
        out = []
        for field, value in sorted(recipient.items()):
            if field in self.ignore_fields or value is None:
                continue
            v = _comparable(str(value))
            if len(v) >= self.min_length and v not in self.ignore_values:
                out.append((field, v))
        return out
