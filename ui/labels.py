"""The words the app shows for the code's names (the README's glossary lists them). No Streamlit."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from review.models import JobStatus

STATUS = {
    "checked": "Generated, not submitted",
    "in_review": "In review",
    "needs_changes": "Changes requested",
    "approved": "Approved",
    "published": "Published",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
    "not generated": "Not generated yet",
}

JOB_STATUS = {
    JobStatus.QUEUED: "waiting to start",
    JobStatus.RUNNING: "running",
    JobStatus.DONE: "finished",
    JobStatus.CANCELLED: "cancelled",
    JobStatus.FAILED: "failed",
}

SOURCE = {
    "model": "the model",
    "fallback": "human-written fallback",
    "no_consent": "human-written fallback (no consent)",
    "alternative": "approved alternative (chosen, not written)",
    "base": "approved base sentence, unchanged",
    "edited": "edited by a person",
}
MODE = {"write": "writes the sentence", "adapt": "adapts an approved sentence", "choose": "picks an approved alternative"}
SCORE_PART = {
    "base": "start",
    "warnings": "guideline warnings",
    "too_short": "too short",
    "length": "fullness",
    "house_style": "like the examples",
    "copies_example": "copies an example",
    "echoes_instruction": "echoes the instruction",
    "no_full_stop": "no full stop",
}


def status(code: str) -> str:
    return STATUS.get(code, code.replace("_", " ").capitalize())


def source(code: str) -> str:
    return SOURCE.get(code, code.replace("_", " "))


def provenance(meta: dict[str, Any], alternatives: int = 0) -> list[str]:
    """A slot's fill in words: who wrote it, why it won or why it fell back, what was dropped."""
    src = str(meta.get("source", "?"))
    n, ok = meta.get("candidates"), meta.get("qualified")
    out: list[str] = []
    if src == "model":
        parts = meta.get("score_parts") or {}
        shown = ", ".join(f"{SCORE_PART.get(k, k.replace('_', ' '))} {v:+.2f}" for k, v in parts.items())
        out.append(
            f"The model wrote it: candidate {int(meta.get('chosen', 0)) + 1} of {n} won with score {meta.get('score')}" + (f" ({shown})." if shown else ".")
        )
        if ok is not None and n:
            out.append(f"{ok} of {n} candidates qualified.")
    elif src == "alternative":
        which = int(meta.get("alternative", 0)) + 1
        out.append(
            f"Approved alternative {which}" + (f" of {alternatives}" if alternatives else "") + f", no model text: {meta.get('why', 'its conditions hold')}."
        )
    elif src == "no_consent":
        out.append("Human-written fallback: the recipients did not consent to personalization, so the model was not asked.")
    elif src in ("fallback", "base"):
        what = "Human-written fallback" if src == "fallback" else "The approved base sentence, unchanged"
        out.append(f"{what}: {meta.get('fell_back') or 'no model text passed the checks'}.")
    elif src == "edited":
        out.append(f"Edited by {meta.get('edited_by', 'a person')} after generation.")
    else:
        out.append(source(src).capitalize() + ".")
    for d in meta.get("dropped") or []:
        out.append(f"Dropped candidate {int(d.get('candidate', 0)) + 1} “{d.get('text', '')}”: {d.get('why', '')} (rule {d.get('rule', '?')}).")
    return out


def rule(rule_id: str, message: str = "") -> str:
    """A rule named by what it says, its id kept for the people who edit the rule files."""
    return f"{message} ({rule_id})" if message else rule_id


def duration(seconds: float | None) -> str:
    """'40 s', '3 min', '1 h 5 min': rounded the way a person says it."""
    if seconds is None:
        return ""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 300:
        m, rest = divmod(s, 60)
        return f"{m} min {rest} s" if rest else f"{m} min"
    m = (s + 30) // 60
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m} min" if m else f"{h} h"


def zone(name: str | None) -> tzinfo:
    """The viewer's timezone by IANA name (as the browser reports it); UTC when unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def when(ts: Any, tz: tzinfo = UTC) -> str:
    """'27 Nov 2026, 16:10 CET': minutes, the viewer's zone, no microseconds. Stored times are UTC
    (SQLite returns them without a zone)."""
    if ts is None or ts == "":
        return ""
    if not isinstance(ts, datetime):
        return str(ts)
    aware = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    local = aware.astimezone(tz)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".rstrip()
