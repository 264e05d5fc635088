"""The one interface every rule type implements, and the per-draft view rules look at."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from .context import CheckContext
from .findings import SCOPES, Finding
from .normalize import Normalized, normalize
from .terms import OptionError

__all__ = ["Opt", "Claim", "BrandEnv", "ScopeText", "Message", "Rule", "TextRule", "ContextRule", "OptionError", "words", "word_count"]

# A word for counting purposes: letters/digits with inner apostrophes or hyphens ("don't", "low-risk").
_COUNT_WORD = re.compile(r"\w+(?:['\-]\w+)*")


def words(text: str) -> list[re.Match[str]]:
    """The counted words of `text`, as matches (the length rule reports where a slot runs over)."""
    return list(_COUNT_WORD.finditer(text))


def word_count(text: str) -> int:
    """The one word count of the project: slot limits, the personalization budget, templates.

    A word is a run of letters or digits, with inner apostrophes or hyphens kept in it:
    "don't" and "low-risk" are one word each, "5 years." is two.
    """
    return len(_COUNT_WORD.findall(text))


@dataclass(frozen=True)
class Opt:
    """One option a rule type accepts: its kind, whether it is required, its default, and what it means."""

    kind: str  # str | int | number | bool | terms | strlist | map | termmap
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass(frozen=True)
class Claim:
    """An entry of the brand's claims library."""

    id: str
    wording: str
    reference: str = ""
    status: str = "active"
    # The last day the claim may be used (claims.yaml `valid_until`); None: no end date.
    valid_until: date | None = None

    def expired_on(self, day: date | None = None) -> bool:
        """Past its `valid_until` on `day` (today, UTC, when not given)."""
        return self.valid_until is not None and (day or today()) > self.valid_until

    def in_force(self, day: date | None = None) -> bool:
        """May be used on `day`: active and not past its `valid_until`. An expired claim counts as
        retired everywhere a rule asks (claims, superlative, grounding)."""
        return self.status == "active" and not self.expired_on(day)


def today() -> date:
    """The UTC date rules check claims' validity against when the check gives no date."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class BrandEnv:
    """Brand-wide facts a rule may need (from brand.yaml, vocab/ and claims.yaml)."""

    brand: str = ""
    disclaimers: tuple[str, ...] = ()
    max_slots: int = 3
    max_share: float | None = None
    allowed_domains: tuple[str, ...] = ()
    accept: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()


class ScopeText:
    """One text of one scope (the message, the subject, one slot, one fixed segment), normalized."""

    __slots__ = ("scope", "slot", "norm", "offset", "today")

    def __init__(self, scope: str, slot: str | None, norm: Normalized, offset: int = 0, today: date | None = None):
        self.scope = scope
        self.slot = slot
        self.norm = norm
        self.offset = offset  # added to spans: fixed segments report in message coordinates
        self.today = today  # the draft's CheckContext.today: the day claims' validity is judged on

    @property
    def original(self) -> str:
        return self.norm.original


class Message:
    """The draft being checked: its CheckContext, with each scope's texts normalized once and
    shared by every rule."""

    def __init__(self, ctx: CheckContext):
        self.ctx = ctx
        self._texts: dict[str, list[ScopeText]] = {}

    def texts(self, scope: str) -> list[ScopeText]:
        """The texts of one scope: the message, the subject, each slot (by name), or each fixed segment."""
        got = self._texts.get(scope)
        if got is None:
            got = self._texts[scope] = self._build(scope)
        return got

    def _build(self, scope: str) -> list[ScopeText]:
        ctx = self.ctx
        if scope == "message":
            return [ScopeText("message", None, normalize(ctx.message), today=ctx.today)]
        if scope == "subject":
            return [ScopeText("subject", None, normalize(ctx.subject), today=ctx.today)]
        if scope == "slot":
            return [ScopeText("slot", name, normalize(text or ""), today=ctx.today) for name, text in sorted(ctx.slots.items())]
        return self._fixed()

    def _fixed(self) -> list[ScopeText]:
        """Fixed copy pieces where they sit in the message (a piece that was edited away is skipped)."""
        out: list[ScopeText] = []
        msg, pos = self.ctx.message, 0
        for i, seg in enumerate(self.ctx.fixed_segments):
            if seg:
                at = pos if msg.startswith(seg, pos) else msg.find(seg, pos)
                if at >= 0:
                    out.append(ScopeText("fixed", None, normalize(seg), at, today=self.ctx.today))
                    pos = at + len(seg)
            if i < len(self.ctx.slot_sequence):
                text = self.ctx.slots.get(self.ctx.slot_sequence[i], "")
                if msg.startswith(text, pos):
                    pos += len(text)
        return out


def render_message(template: str, args: Iterable[Any], named: dict[str, Any]) -> str:
    """Vale-style: each `%s` takes the next argument; `{name}` placeholders take named values."""
    values = [str(a) for a in args]
    pieces = [p.replace("%%", "%") for p in template.split("%s")]
    out = [pieces[0]]
    for i, piece in enumerate(pieces[1:]):
        out.append(values[i] if i < len(values) else "")
        out.append(piece)
    text = "".join(out)
    if "{" in text:
        for k, v in named.items():
            text = text.replace("{" + k + "}", "" if v is None else str(v))
    return text


class Rule:
    """Base of every rule type. Subclasses declare `options`, compile them in `setup`, and yield findings in `check`."""

    type_name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    options: ClassVar[dict[str, Opt]] = {}
    default_level: ClassVar[str] = "warning"
    default_scope: ClassVar[str] = "message"
    allowed_scopes: ClassVar[tuple[str, ...]] = SCOPES
    default_message: ClassVar[str] = "%s"
    max_args: ClassVar[int] = 1  # how many `%s` the message may use
    # What RuleSet.check_text/check_value may run it on (RuleSet.check runs every rule):
    # a finder of bad things runs on any text, whatever scope it is configured for;
    anywhere: ClassVar[bool] = False
    # a rule needing a whole draft (recipient, slots, layout) never runs on plain text;
    needs_context: ClassVar[bool] = False
    # a rule reporting something MISSING from a whole text (a disclaimer) skips fragments.
    presence: ClassVar[bool] = False

    def __init__(self, rid: str, *, level: str, scope: str, message: str | None, link: str | None, ignorecase: bool, opts: dict[str, Any], env: BrandEnv):
        self.id = rid
        self.type = self.type_name
        self.level = level
        self.scope = scope
        self.message = message or self.default_message
        self.link = link
        self.ignorecase = ignorecase
        self.env = env
        self.setup(opts, env)

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        """Compile options once at load; raise OptionError(reason, path) for a bad value."""

    def check(self, message: Message) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(
        self,
        st: ScopeText | None,
        span: tuple[int, int] | None,
        match: str,
        *args: Any,
        level: str | None = None,
        suggestion: str | None = None,
        claim_id: str | None = None,
        message: str | None = None,
        scope: str | None = None,
        slot: str | None = None,
        **named: Any,
    ) -> Finding:
        if st is not None and span is not None and st.offset:
            span = (span[0] + st.offset, span[1] + st.offset)
        named.setdefault("match", match)
        named.setdefault("suggestion", suggestion)
        return Finding(
            rule=self.id,
            level=level or self.level,
            message=render_message(message or self.message, args, named),
            match=match,
            span=span,
            scope=scope or (st.scope if st else self.scope),
            slot=slot if slot is not None else (st.slot if st else None),
            suggestion=suggestion,
            link=self.link,
            claim_id=claim_id,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.level} {self.scope}>"


class TextRule(Rule):
    """A rule that looks at one scope text at a time (so it can also check plain text)."""

    def check(self, message: Message) -> Iterator[Finding]:
        for st in message.texts(self.scope):
            yield from self.check_text(st)

    def words(self) -> frozenset[str] | None:
        """Words (of Normalized.tokens) one of which a text must hold for this rule to report
        anything in it; None when any text may do. The rule set skips the rule on other texts."""
        return None

    def check_text(self, st: ScopeText) -> Iterable[Finding]:
        raise NotImplementedError


class ContextRule(Rule):
    """A rule that needs the whole draft (recipient, slot inputs, template layout)."""

    needs_context = True
