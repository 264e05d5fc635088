"""Approval expiry and claim validity: what may no longer ship, what will soon, and renewing it.

An approval lasts brand.yaml's `approval_valid_days` from the moment the draft became approved
(`Draft.approved_at`, set by transitions.transition); a brand without the key has approvals that
never expire. A claim lasts until its claims.yaml `valid_until` (inclusive); after that the rules
treat it as retired (guidelines.rule.Claim.in_force).

- `export_problems` is what export (readiness, verify_campaign, publish) adds to its reasons:
  an expired approval, or content citing an expired claim, is refused with a sentence naming
  the draft, the date and the brand's rule.
- `expiring` lists, per brand, approved or published drafts whose approval expires within
  `EXPIRING_WINDOW_DAYS` (or has expired) and claims that expire within it (or have).
- `renew` is the re-approval path: re-check on the rules as they are now, void the old
  signatures ("approval expired"), and send the draft back to review (or to its author's
  checked list when it now has errors).

Every function that depends on the time takes `now` (UTC; None: the current time), so the
same code answers "what is expired today" and "what will be on that date".

A published draft stays published when its approval expires: what shipped, shipped, under a
valid approval, and its export and audit trail stand. Its campaign is never exported again (a
published campaign is not re-exported, and an expired approval would refuse it anyway). The
Expiring page keeps listing it so a reviewer decides: withdraw it (which writes a recall for the
systems that took the export, review.recalls) or leave it. Re-using the content means a new
campaign, reviewed and approved afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, or_, select

from . import audit
from .auth import require_role
from .brands import BrandPolicy, list_brands, policy_for
from .checks import embed_slot_texts
from .claims import read_claims
from .config import settings
from .errors import InvalidTransition, NotReady
from .guidelines.rule import Claim
from .locks import lock_draft
from .models import Brand, Campaign, Comment, Draft, Role, Status, User, Variant, pk, utcnow
from .rechecks import recheck
from .transitions import brand_of, last_change, transition, void_approvals

S = Status
EXPIRING_WINDOW_DAYS = 30  # "expiring soon": listed, and renewable before the date
RENEW_REASON = "approval expired"


def _aware(ts: datetime) -> datetime:
    """A stored time as UTC (SQLite gives naive datetimes back)."""
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _now(now: datetime | None) -> datetime:
    return _aware(now) if now is not None else utcnow()


# ------------------------------------------------------------------ approvals


def approval_expires_at(policy: BrandPolicy, draft: Draft) -> datetime | None:
    """When the draft's approval expires; None when the brand's approvals never expire or the
    draft holds no approval (not approved or published, or its approval time is unknown)."""
    if policy.approval_valid_days is None or draft.approved_at is None or draft.status not in (S.APPROVED, S.PUBLISHED):
        return None
    return _aware(draft.approved_at) + timedelta(days=policy.approval_valid_days)


def approval_problem(policy: BrandPolicy, draft: Draft, now: datetime | None = None) -> str | None:
    """Why the draft's approval no longer holds at `now` (None when it does, or never expires)."""
    days = policy.approval_valid_days
    if days is None or draft.status not in (S.APPROVED, S.PUBLISHED):
        return None
    if draft.approved_at is None:
        return f"draft {draft.id}'s approval time is unknown ({policy.name} approvals last {days} days); re-approve it"
    expires = approval_expires_at(policy, draft)
    if expires is not None and _now(now) >= expires:
        return f"draft {draft.id}'s approval expired on {expires:%Y-%m-%d} ({policy.name} approvals last {days} days); re-approve it"
    return None


# ------------------------------------------------------------------ claims


def brand_claims(slug: str, root: Path | None = None) -> tuple[tuple[Claim, ...], list[str]]:
    """(claims, problems) of a brand's claims.yaml (none when the brand has no library)."""
    path = Path(root or settings().guidelines_dir) / slug / "claims.yaml"
    if not path.is_file():
        return (), []
    claims, errors = read_claims(path)
    return claims, [str(e) for e in errors]


def cited_claims(draft: Draft) -> set[str]:
    """The claims the draft's stored check report matched (its findings' claim ids)."""
    return {str(f["claim_id"]) for f in draft.findings if f.get("claim_id")}


def claim_problems(slug: str, drafts: list[Draft], day: date) -> list[str]:
    """Per draft: each claim it cites that is past its valid_until on `day`."""
    claims, _ = brand_claims(slug)
    by_id = {c.id: c for c in claims}
    out: list[str] = []
    for d in drafts:
        for cid in sorted(cited_claims(d)):
            claim = by_id.get(cid)
            if claim is not None and claim.expired_on(day):
                out.append(f"draft {d.id} cites claim {cid}, which expired on {claim.valid_until} (valid_until in claims.yaml); re-check it to send it back")
    return out


# ------------------------------------------------------------------ export


def export_problems(session: Session, camp: Campaign, drafts: list[Draft], now: datetime | None = None) -> list[str]:
    """What expiry adds to export's reasons: approvals expired at `now`, and claims cited by
    content that would ship that are past their valid_until. Only approved drafts are looked at
    (anything else is refused by export for its status already)."""
    brand = session.get(Brand, camp.brand_id)
    if brand is None:
        return [f"campaign '{camp.name}' has no brand"]
    policy = policy_for(brand)
    shipping = [d for d in drafts if d.status == S.APPROVED]
    problems = [p for d in shipping if (p := approval_problem(policy, d, now))]
    return problems + claim_problems(brand.slug, shipping, _now(now).date())


# ------------------------------------------------------------------ the expiring list


@dataclass(frozen=True)
class ExpiringApproval:
    draft_id: int
    campaign_id: int
    campaign: str
    variant: str
    status: str
    approved_at: datetime | None
    expires_at: datetime | None  # None: the approval time is unknown (treated as expired)
    days_left: int  # whole days from now to expiry; once expired, minus the whole days since
    expired: bool


@dataclass(frozen=True)
class ExpiringClaim:
    claim_id: str
    wording: str
    reference: str
    valid_until: date
    days_left: int  # days from today to valid_until; below 0: expired
    expired: bool


@dataclass(frozen=True)
class BrandExpiry:
    slug: str
    name: str
    approval_valid_days: int | None
    approvals: list[ExpiringApproval]
    claims: list[ExpiringClaim]
    problems: list[str]  # claims.yaml problems (the claims listed are the valid ones)


@dataclass(frozen=True)
class ExpiringReport:
    now: datetime
    within_days: int
    brands: list[BrandExpiry]

    @property
    def empty(self) -> bool:
        return not any(b.approvals or b.claims or b.problems for b in self.brands)


def _days_left(until: datetime, now: datetime) -> int:
    """Whole days until `until` (rounded down); once past it, minus the whole days since."""
    seconds = (until - now).total_seconds()
    return int(seconds // 86400) if seconds >= 0 else -int(-seconds // 86400)


def _expiring_approvals(session: Session, brand: Brand, policy: BrandPolicy, now: datetime, within: int) -> list[ExpiringApproval]:
    if policy.approval_valid_days is None:
        return []
    # approved_at + valid_days <= now + window  <=>  approved_at <= now + window - valid_days
    cutoff = now + timedelta(days=within - policy.approval_valid_days)
    rows = session.exec(
        select(Draft, Campaign, Variant)
        .join(Campaign, col(Campaign.id) == col(Draft.campaign_id))
        .join(Variant, col(Variant.id) == col(Draft.variant_id))
        .where(
            Campaign.brand_id == brand.id,
            col(Draft.status).in_([S.APPROVED, S.PUBLISHED]),
            or_(col(Draft.approved_at).is_(None), col(Draft.approved_at) <= cutoff),
        )
        .order_by(col(Draft.approved_at), col(Draft.id))
    ).all()
    out = []
    for d, camp, variant in rows:
        expires = approval_expires_at(policy, d)
        left = _days_left(expires, now) if expires is not None else 0
        expired = expires is None or now >= expires
        out.append(ExpiringApproval(pk(d), pk(camp), camp.name, variant.label or variant.key, d.status, d.approved_at, expires, left, expired))
    return out


def _expiring_claims(claims: tuple[Claim, ...], today: date, within: int) -> list[ExpiringClaim]:
    horizon = today + timedelta(days=within)
    soon = [c for c in claims if c.status == "active" and c.valid_until is not None and c.valid_until <= horizon]
    return [
        ExpiringClaim(c.id, c.wording, c.reference, c.valid_until, (c.valid_until - today).days, c.expired_on(today))
        for c in sorted(soon, key=lambda c: (c.valid_until, c.id))
        if c.valid_until is not None
    ]


def expiring(session: Session, actor: User, *, now: datetime | None = None, within_days: int = EXPIRING_WINDOW_DAYS) -> ExpiringReport:
    """Per brand: approved or published drafts whose approval expires within `within_days` of
    `now` or has expired, and active claims whose valid_until falls within it or has passed."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    if within_days < 0:
        raise NotReady("the window must be zero days or more")
    at = _now(now)
    brands = []
    for brand, policy in list_brands(session):
        claims, problems = brand_claims(brand.slug)
        brands.append(
            BrandExpiry(
                brand.slug,
                policy.name,
                policy.approval_valid_days,
                _expiring_approvals(session, brand, policy, at, within_days),
                _expiring_claims(claims, at.date(), within_days),
                problems,
            )
        )
    return ExpiringReport(at, within_days, brands)


# ------------------------------------------------------------------ renewal


def renewal_problem(session: Session, draft: Draft, now: datetime | None = None) -> str | None:
    """Why this draft cannot be renewed now (None when it can): it must be approved, its brand's
    approvals must expire, and its approval must have expired or expire within the window."""
    if draft.status != S.APPROVED:
        why = "; a published draft stays published (withdraw it to recall it)" if draft.status == S.PUBLISHED else ""
        return f"{last_change(session, draft)}; only an approved draft can be renewed{why}"
    policy = policy_for(brand_of(session, draft))
    if policy.approval_valid_days is None:
        return f"{policy.name} approvals never expire (brand.yaml has no approval_valid_days): draft {draft.id} needs no renewal"
    expires = approval_expires_at(policy, draft)
    at = _now(now)
    if expires is not None and expires - at > timedelta(days=EXPIRING_WINDOW_DAYS):
        opens = expires - timedelta(days=EXPIRING_WINDOW_DAYS)
        return f"draft {draft.id}'s approval holds until {expires:%Y-%m-%d}; it can be renewed from {opens:%Y-%m-%d} ({EXPIRING_WINDOW_DAYS} days before)"
    return None


def renewable(session: Session, draft: Draft, user: User, now: datetime | None = None) -> bool:
    """Whether `renew` is offered to this user on this draft now (workflow.get_actions)."""
    return user.active and user.role in (Role.REVIEWER, Role.ADMIN) and renewal_problem(session, draft, now) is None


def renew(session: Session, actor: User, draft_id: int, *, comment: str = "", now: datetime | None = None) -> Draft:
    """Re-approval of an expired (or expiring) approval: re-check the draft on the brand's rules
    and claims as they are now, void its signatures, and send it back to review; a draft that
    now has error-level findings goes to its author instead (checked), with a comment saying why."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    draft = lock_draft(session, draft_id)
    problem = renewal_problem(session, draft, now)
    if problem:
        raise (InvalidTransition if draft.status != S.APPROVED else NotReady)(problem)
    policy = policy_for(brand_of(session, draft))
    expires = approval_expires_at(policy, draft)
    expired = expires is None or _now(now) >= expires
    reason = RENEW_REASON if expired else f"approval expiring on {expires:%Y-%m-%d}, renewed early"
    before = {
        "status": draft.status,
        "approved_at": draft.approved_at.isoformat() if draft.approved_at else None,
        "expires_at": expires.isoformat() if expires else None,
        "errors": draft.error_count,
        "warnings": draft.warning_count,
    }
    embed_slot_texts(policy.slug, [draft.slots])
    findings = recheck(session, draft)
    draft.updated_at = utcnow()
    session.add(draft)
    voided = void_approvals(session, actor, draft, reason)
    text = (comment or "").strip()
    if text:
        session.add(Comment(draft_id=pk(draft), user_id=pk(actor), kind="note", text=text, revision=draft.revision))
    target = S.CHECKED if draft.error_count else S.IN_REVIEW
    audit.append(
        session,
        actor=actor.username,
        action="draft_renewed",
        entity="draft",
        entity_id=draft.id,
        before=before,
        after={
            "errors": draft.error_count,
            "warnings": draft.warning_count,
            "findings": len(findings),
            "approvals_voided": voided,
            "reason": reason,
            "comment": text,
            "to": target,
        },
    )
    if draft.error_count:
        first = next(f for f in findings if f.get("level") == "error")
        note = f"Renewal re-check ({reason}): {draft.error_count} error(s) now, e.g. {first.get('rule')}: {first.get('message')}. Fix them and submit again."
        session.add(Comment(draft_id=pk(draft), user_id=pk(actor), kind="system", text=note, revision=draft.revision))
    return transition(session, draft, target, actor, reason=f"{reason}: re-checked for re-approval")
