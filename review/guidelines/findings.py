"""A finding: one place where a draft breaks one rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

LEVELS = ("error", "warning", "suggestion")
SCOPES = ("slot", "message", "subject", "fixed")


@dataclass(frozen=True)
class Finding:
    """One rule broken at one place. Spans index the ORIGINAL text of the scope (message coordinates for `fixed`)."""

    rule: str
    level: str
    message: str
    match: str
    span: tuple[int, int] | None
    scope: str
    slot: str | None = None
    suggestion: str | None = None
    link: str | None = None
    claim_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["span"] = list(self.span) if self.span is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        span = d.get("span")
        return cls(
            rule=d["rule"],
            level=d["level"],
            message=d["message"],
            match=d.get("match", ""),
            span=(int(span[0]), int(span[1])) if span is not None else None,
            scope=d.get("scope", "message"),
            slot=d.get("slot"),
            suggestion=d.get("suggestion"),
            link=d.get("link"),
            claim_id=d.get("claim_id"),
        )

    def sort_key(self) -> tuple[Any, ...]:
        start, end = self.span if self.span is not None else (-1, -1)
        return (SCOPES.index(self.scope), self.slot or "", start, end, self.rule, self.message, self.match)


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The error-level findings: the ones that stop a draft from being approved."""
    return [f for f in findings if f.level == "error"]
