"""Read services for the review queue, the audit trail and the dashboard; nothing here writes.

Pure SQL/SQLModel, no Streamlit. Each function re-checks the actor's role, like every
service: a page being hidden from a role is not a permission.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, cast, or_
from sqlmodel import Session, col, func, select

from . import audit
from .auth import require_role
from .brands import list_brands
from .models import AuditEvent, Campaign, Draft, Role, Status, User, pk
from .queue import QueueFilter, QueuePage, review_queue

DECISIONS = {"draft_approved": "approved", "draft_rejected": "rejected", "draft_needs_changes": "changes requested"}
_QUEUE_ACTIONS = ("draft_in_review", "draft_approved", "draft_rejected", "draft_needs_changes", "draft_checked", "draft_withdrawn", "draft_published")


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# ----------------------------------------------------------------- reviewer queue


def queue_page(session: Session, actor: User, flt: QueueFilter, *, page: int = 1, page_size: int = 50) -> QueuePage:
    """The review queue, for reviewers and admins."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    return review_queue(session, flt, page=page, page_size=page_size)


def queue_filter_options(session: Session, actor: User) -> tuple[dict[int, str], dict[int, str]]:
    """The queue's brand and campaign choices: {id: name}, brands by name, newest campaigns first."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    brands = {pk(b): policy.name for b, policy in list_brands(session)}
    camps = {pk(c): c.name for c in session.exec(select(Campaign).order_by(col(Campaign.created_at).desc())).all()}
    return brands, camps


# ----------------------------------------------------------------- audit trail


def audit_search(
    session: Session, actor: User, *, text: str = "", action: str = "", entity: str = "", entity_id: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    """Newest first, with the total for pagination. Reviewers and admins see every event; a
    marketer sees the events of the campaigns they created and of those campaigns' drafts."""
    conds = _audit_conditions(session, actor, text=text, action=action, entity=entity, entity_id=entity_id)
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*conds)).one()
    rows = session.exec(select(AuditEvent).where(*conds).order_by(col(AuditEvent.seq).desc()).offset(offset).limit(limit)).all()
    return list(rows), int(total)


AUDIT_CSV_MAX_ROWS = 100_000


def audit_csv(session: Session, actor: User, *, text: str = "", action: str = "", entity: str = "", entity_id: str = "") -> bytes:
    """The events the same filters find, oldest first, as CSV: readable details next to the exact
    data (JSON), every cell neutralized for spreadsheets (review.export.safe_cell)."""
    import csv
    import io
    import json

    from .export import safe_cell

    conds = _audit_conditions(session, actor, text=text, action=action, entity=entity, entity_id=entity_id)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["event", "time_utc", "actor", "action", "entity", "entity_id", "details", "data_json", "hash"])
    for e in session.exec(select(AuditEvent).where(*conds).order_by(col(AuditEvent.seq)).limit(AUDIT_CSV_MAX_ROWS)).all():
        row = [
            e.seq,
            _utc(e.ts).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.action,
            e.entity,
            e.entity_id,
            describe_details(e.after),
            json.dumps(e.after, ensure_ascii=False, sort_keys=True, default=str),
            e.hash,
        ]
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def _audit_conditions(session: Session, actor: User, *, text: str, action: str, entity: str, entity_id: str) -> list[Any]:
    require_role(actor, Role.REVIEWER, Role.ADMIN, Role.MARKETER)
    conds = audit.event_filters(text=text, action=action, entity=entity, entity_id=entity_id)
    if actor.role == Role.MARKETER:
        own = select(Campaign.id).where(Campaign.created_by == actor.id)
        own_ids = select(cast(col(Campaign.id), String)).where(Campaign.created_by == actor.id)
        own_drafts = select(cast(col(Draft.id), String)).where(col(Draft.campaign_id).in_(own))
        conds.append(
            or_(
                and_(col(AuditEvent.entity) == "campaign", col(AuditEvent.entity_id).in_(own_ids)),
                and_(col(AuditEvent.entity) == "draft", col(AuditEvent.entity_id).in_(own_drafts)),
            )
        )
    return conds


# Names in event data, as people say them; hashes are cut to a recognisable prefix.
_DETAIL_NAMES = {
    "content_hash": "text fingerprint",
    "manifest_hash": "signature fingerprint",
    "model_fingerprint": "model",
    "prompt_fingerprint": "prompt",
    "variant": "audience group",
    "variants": "audience groups",
    "fallbacks": "human-written fallbacks",
    "job_id": "job",
    "held_back": "recipients held back",
    "status": "status",
}
_HASHY = ("hash", "fingerprint", "sha256", "mac")


def describe_details(data: Mapping[str, Any] | None, *, limit: int = 400) -> str:
    """An event's data as one readable line: 'status: in review → approved · revision: 2 · …'."""
    if not data:
        return ""
    parts = []
    for key, value in data.items():
        name = _DETAIL_NAMES.get(key, key.replace("_", " "))
        parts.append(f"{name}: {_detail_value(key, value)}")
    line = " · ".join(parts)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _detail_value(key: str, value: Any) -> str:
    if isinstance(value, str) and any(h in key for h in _HASHY) and len(value) > 16:
        return value[:12] + "…"
    if key == "status" and isinstance(value, str):
        return value.replace("_", " ")
    if isinstance(value, Mapping):
        return "; ".join(f"{k.replace('_', ' ')} {_detail_value(k, v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_detail_value(key, v) for v in value) if value else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "—"
    return str(value)


def audit_verify(session: Session, actor: User) -> audit.ChainReport:
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    return audit.verify_everything(session)


def audit_actions(session: Session, actor: User) -> list[str]:
    require_role(actor, Role.REVIEWER, Role.ADMIN, Role.MARKETER)
    return [a for a in session.exec(select(AuditEvent.action).distinct().order_by(col(AuditEvent.action))).all()]


# ----------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class DashboardData:
    queue_size: list[dict[str, Any]]  # {ts, in_review}
    decisions: list[dict[str, Any]]  # {day, decision, count}
    decision_rates: dict[str, float]  # decision -> share of all decisions
    time_to_decision: list[dict[str, Any]]  # {draft_id, decision, hours}
    findings_by_rule: list[dict[str, Any]]  # {rule, level, count, message}: message is one the rule gave
    status_counts: dict[str, int]


def dashboard(session: Session, actor: User) -> DashboardData:
    """Queue size over time, decision rates, time to decision, most frequent findings."""
    require_role(actor, *Role.ALL)
    events = session.exec(
        select(AuditEvent.ts, AuditEvent.action, AuditEvent.entity_id, AuditEvent.before)
        .where(AuditEvent.entity == "draft", col(AuditEvent.action).in_(_QUEUE_ACTIONS))
        .order_by(col(AuditEvent.seq))
    ).all()
    size = 0
    series: list[dict[str, Any]] = []
    entered: dict[str, datetime] = {}
    ttd: list[dict[str, Any]] = []
    per_day: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    for ts, action, entity_id, before in events:
        ts = _utc(ts)
        was_in_review = (before or {}).get("status") == Status.IN_REVIEW
        if action == "draft_in_review":
            size += 1
            entered[entity_id] = ts
        elif was_in_review:
            size -= 1
        else:
            continue
        series.append({"ts": ts, "in_review": size})
        if action in DECISIONS:
            decision = DECISIONS[action]
            per_day[(ts.date().isoformat(), decision)] += 1
            totals[decision] += 1
            if entity_id in entered:
                ttd.append({"draft_id": int(entity_id), "decision": decision, "hours": round((ts - entered[entity_id]).total_seconds() / 3600, 3)})
    # Keep the chart light: at most ~500 points, always including the latest.
    if len(series) > 500:
        step = len(series) / 500
        series = [series[int(i * step)] for i in range(500)] + [series[-1]]
    n = sum(totals.values())
    counter: Counter[tuple[str, str]] = Counter()
    messages: dict[str, str] = {}
    statuses: Counter[str] = Counter()
    for status, findings in session.exec(select(Draft.status, Draft.findings)).all():
        statuses[status] += 1
        if status in (Status.REJECTED, Status.WITHDRAWN):
            continue
        for f in findings or []:
            counter[(f.get("rule", "?"), f.get("level", "?"))] += 1
            messages.setdefault(f.get("rule", "?"), str(f.get("message") or ""))
    return DashboardData(
        queue_size=series,
        decisions=[{"day": d, "decision": k, "count": c} for (d, k), c in sorted(per_day.items())],
        decision_rates={k: v / n for k, v in totals.items()} if n else {},
        time_to_decision=ttd,
        findings_by_rule=[{"rule": r, "level": lv, "count": c, "message": messages.get(r, "")} for (r, lv), c in counter.most_common(15)],
        status_counts=dict(statuses),
    )
