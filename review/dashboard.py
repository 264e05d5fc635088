"""Queries for the app's dashboard and role-checked read services the UI needs.

Pure SQL/SQLModel, no Streamlit. Each function re-checks the actor's role, like every
service: a page being hidden from a role is not a permission.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from . import audit
from .auth import check_password, ensure_not_locked, require_role
from .brands import policy_for
from .errors import AuthenticationError, CountersignError, WorkflowError
from .locks import lock_rows
from .models import Approval, AuditEvent, Brand, Campaign, Draft, Role, Status, User
from .queue import QueueFilter, QueuePage, review_queue
from .workflow import SIGNATURE_MEANINGS, approve, get_draft, valid_approvals

DECISIONS = {"draft_approved": "approved", "draft_rejected": "rejected", "draft_needs_changes": "changes requested"}
_QUEUE_ACTIONS = ("draft_in_review", "draft_approved", "draft_rejected", "draft_needs_changes", "draft_checked", "draft_withdrawn", "draft_published")


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# ----------------------------------------------------------------- reviewer queue


def queue_page(session: Session, actor: User, flt: QueueFilter, *, page: int = 1, page_size: int = 50) -> QueuePage:
    """The review queue, for reviewers and admins."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    return review_queue(session, flt, page=page, page_size=page_size)


def drafts_without_findings(session: Session, draft_ids: list[int], *, signed_by: int | None = None) -> list[int]:
    """Of these drafts, the ones in review with no finding at all (not even a suggestion),
    leaving out those `signed_by` already signed at their current revision."""
    if not draft_ids:
        return []
    rows = session.exec(select(Draft.id, Draft.findings).where(col(Draft.id).in_(draft_ids), Draft.status == Status.IN_REVIEW)).all()
    signed: set[int] = set()
    if signed_by is not None:
        signed = set(
            session.exec(
                select(Approval.draft_id)
                .join(Draft, col(Draft.id) == col(Approval.draft_id))
                .where(col(Approval.draft_id).in_(draft_ids), Approval.reviewer_id == signed_by, Approval.valid == True, Approval.revision == Draft.revision)  # noqa: E712
            ).all()
        )
    return sorted(int(i) for i, f in rows if not f and i not in signed)  # type: ignore[arg-type]


def approve_clean(session: Session, actor: User, draft_id: int, *, password: str, meaning: str, expected_content_hash: str) -> Approval:
    """Bulk approval, one draft at a time: refuses any draft that has findings, then signs it
    exactly like a single approval (its own signature, manifest and audit event) — and only if
    its content is still the `expected_content_hash` the reviewer was shown."""
    draft = get_draft(session, draft_id)
    if draft.findings:
        raise WorkflowError(f"draft {draft_id} has {len(draft.findings)} finding(s); open it and approve it on its own")
    if meaning not in SIGNATURE_MEANINGS:
        raise WorkflowError(f"choose what the signature means: {'; '.join(SIGNATURE_MEANINGS)}")
    return approve(session, actor, draft_id, password=password, meaning=meaning, acknowledged=[], expected_content_hash=expected_content_hash)


@dataclass(frozen=True)
class SignOutcome:
    """What a bulk signature did to one draft."""

    draft_id: int
    signed: bool
    detail: str  # "approved", "signed (1 of 2 signatures)", or why it was not signed
    error: CountersignError | None = None


def approve_shown(session: Session, actor: User, shown: Mapping[int, str], *, password: str, meaning: str) -> list[SignOutcome]:
    """Sign several finding-free drafts, each only as the reviewer was shown it.

    `shown` maps each draft to the content hash of the text the review sheet displayed: a draft
    edited since is refused, never signed unseen. Role, meaning and password are checked once
    (a wrong password refuses the whole batch and counts once towards the lock-out); then each
    draft is signed on its own savepoint, so one refusal never stops the others, and every
    draft gets an outcome. Refusals among the outcomes are for the caller to put on record
    (review.db.record_refusal) once this transaction has committed.
    """
    require_role(actor, Role.REVIEWER)
    if not shown:
        raise WorkflowError("choose the drafts to sign and read them on the review sheet first")
    if meaning not in SIGNATURE_MEANINGS:
        raise WorkflowError(f"choose what the signature means: {'; '.join(SIGNATURE_MEANINGS)}")
    who = {"actor": actor.username, "attempted": "sign", "entity": "draft", "entity_id": ",".join(str(i) for i in shown)}
    ensure_not_locked(session, actor.username, actor.id, who)
    if not password or not check_password(actor, password):
        raise AuthenticationError("Signature refused: the password does not match.", **who)
    # Lock every draft first (in id order). On SQLite this also opens the real transaction, so
    # each draft's savepoint below nests inside it and a crash mid-batch undoes the whole batch.
    lock_rows(session, Draft, list(shown))
    outcomes: list[SignOutcome] = []
    for draft_id, content_hash in shown.items():
        try:
            with session.begin_nested():
                approve_clean(session, actor, draft_id, password=password, meaning=meaning, expected_content_hash=content_hash)
        except CountersignError as e:
            outcomes.append(SignOutcome(draft_id, False, str(e), e))
            continue
        draft = get_draft(session, draft_id)
        if draft.status == Status.APPROVED:
            outcomes.append(SignOutcome(draft_id, True, "approved"))
        else:
            n, required = len(valid_approvals(session, draft)), _approvals_required(session, draft)
            outcomes.append(SignOutcome(draft_id, True, f"signed ({n} of {required} signatures)"))
    return outcomes


def _approvals_required(session: Session, draft: Draft) -> int:
    camp = session.get(Campaign, draft.campaign_id)
    brand = session.get(Brand, camp.brand_id) if camp else None
    return policy_for(brand).approvals_required if brand else 1  # brand.yaml says how many


# ----------------------------------------------------------------- audit trail


def audit_search(
    session: Session, actor: User, *, text: str = "", action: str = "", entity: str = "", entity_id: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    return audit.search_events(session, text=text, action=action, entity=entity, entity_id=entity_id, limit=limit, offset=offset)


def audit_verify(session: Session, actor: User) -> audit.ChainReport:
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    return audit.verify_everything(session)


def audit_actions(session: Session, actor: User) -> list[str]:
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    return [a for a in session.exec(select(AuditEvent.action).distinct().order_by(col(AuditEvent.action))).all()]


# ----------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class DashboardData:
    queue_size: list[dict[str, Any]]  # {ts, in_review}
    decisions: list[dict[str, Any]]  # {day, decision, count}
    decision_rates: dict[str, float]  # decision -> share of all decisions
    time_to_decision: list[dict[str, Any]]  # {draft_id, decision, hours}
    findings_by_rule: list[dict[str, Any]]  # {rule, level, count}
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
    statuses: Counter[str] = Counter()
    for status, findings in session.exec(select(Draft.status, Draft.findings)).all():
        statuses[status] += 1
        if status in (Status.REJECTED, Status.WITHDRAWN):
            continue
        for f in findings or []:
            counter[(f.get("rule", "?"), f.get("level", "?"))] += 1
    return DashboardData(
        queue_size=series,
        decisions=[{"day": d, "decision": k, "count": c} for (d, k), c in sorted(per_day.items())],
        decision_rates={k: v / n for k, v in totals.items()} if n else {},
        time_to_decision=ttd,
        findings_by_rule=[{"rule": r, "level": lv, "count": c} for (r, lv), c in counter.most_common(15)],
        status_counts=dict(statuses),
    )
