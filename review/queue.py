"""The review queue: pending drafts, riskiest and oldest first, one page at a time.

Only the rows shown are read: the query sorts and limits in the database, so the page
stays fast with tens of thousands of drafts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, func, select

from .brands import brand_slugs_named, policy_for
from .models import Approval, Brand, Campaign, Draft, Status, Variant


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[str, ...] = (Status.IN_REVIEW,)
    brand_id: int | None = None
    campaign_id: int | None = None
    text: str = ""  # words to find in the campaign, brand or audience group name, or a draft number ("#12" or "12")


@dataclass(frozen=True)
class QueueRow:
    draft_id: int
    status: str
    brand: str
    campaign: str
    campaign_id: int
    variant: str
    recipients: int
    errors: int
    warnings: int
    fallbacks: int
    approvals: int
    approvals_required: int
    revision: int
    updated_at: datetime


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def review_queue(session: Session, flt: QueueFilter = QueueFilter(), *, page: int = 1, page_size: int = 50) -> QueuePage:
    conds: list[ColumnElement[bool]] = [col(Draft.status).in_(flt.statuses)] if flt.statuses else []
    if flt.campaign_id is not None:
        conds.append(col(Draft.campaign_id) == flt.campaign_id)
    if flt.brand_id is not None:
        conds.append(col(Campaign.brand_id) == flt.brand_id)
    conds.extend(_text_conditions(flt.text))
    total = session.exec(
        select(func.count())
        .select_from(Draft)
        .join(Campaign, col(Campaign.id) == col(Draft.campaign_id))
        .join(Brand, col(Brand.id) == col(Campaign.brand_id))
        .join(Variant, col(Variant.id) == col(Draft.variant_id))
        .where(*conds)
    ).one()
    approvals = (
        select(func.count())
        .where(col(Approval.draft_id) == col(Draft.id), col(Approval.valid).is_(True), col(Approval.revision) == col(Draft.revision))
        .correlate(Draft)
        .scalar_subquery()
    )
    q = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() for up to 4 columns
            Draft.id,
            Draft.status,
            Brand.slug,
            Campaign.name,
            Campaign.id,
            Variant.label,
            Variant.recipient_count,
            Draft.error_count,
            Draft.warning_count,
            Draft.fallback_count,
            approvals,
            Draft.revision,
            Draft.updated_at,
        )
        .join(Campaign, col(Campaign.id) == col(Draft.campaign_id))
        .join(Brand, col(Brand.id) == col(Campaign.brand_id))
        .join(Variant, col(Variant.id) == col(Draft.variant_id))
        .where(*conds)
        # Riskiest first (errors, warnings, model fallbacks), then the longest waiting.
        .order_by(
            col(Draft.error_count).desc(), col(Draft.warning_count).desc(), col(Draft.fallback_count).desc(), col(Draft.updated_at).asc(), col(Draft.id).asc()
        )
        .offset((max(page, 1) - 1) * page_size)
        .limit(page_size)
    )
    rows = [_queue_row(r) for r in session.exec(q).all()]
    return QueuePage(rows, int(total), max(page, 1), page_size)


def _queue_row(r: Any) -> QueueRow:
    """One result row (its 13 columns are more than select() is typed for). The brand's name and
    how many signatures it needs are read from its brand.yaml (the single source), by its slug."""
    draft_id, status, slug, campaign, campaign_id, variant, recipients, errors, warnings, fallbacks, approvals, revision, updated_at = r
    policy = policy_for(slug)
    return QueueRow(
        draft_id,
        status,
        policy.name,
        campaign,
        campaign_id,
        variant,
        recipients,
        errors,
        warnings,
        fallbacks,
        approvals,
        policy.approvals_required,
        revision,
        updated_at,
    )


def _text_conditions(text: str) -> list[ColumnElement[bool]]:
    """Every word must match somewhere: the campaign, brand or audience group name, or the draft
    number. LIKE wildcards typed by the user are matched literally."""
    out: list[ColumnElement[bool]] = []
    for word in text.split()[:8]:
        if word.startswith("#") and word[1:].isdigit() and len(word) < 12:
            out.append(col(Draft.id) == int(word[1:]))
            continue
        like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        names: list[ColumnElement[bool]] = [c.ilike(like, escape="\\") for c in (col(Campaign.name), col(Variant.label))]
        names.append(col(Brand.slug).in_(brand_slugs_named(word)))
        if word.isdigit() and len(word) < 10:
            names.append(col(Draft.id) == int(word))
        out.append(or_(*names))
    return out
