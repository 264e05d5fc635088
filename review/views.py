"""What the pages show: read models assembled from the domain, one service per view.

Each function takes the session first and the acting user second and checks the user's role,
like every service (a page hidden from a role is not a permission), so a page calls exactly one
of them through `ui.common.call`. They return dataclasses and rows already loaded: nothing in a
result reads the database after its session has closed. No Streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from .audiences import list_audiences, sample_recipients
from .auth import require_role
from .brands import BrandPolicy, list_brands, policy_for
from .campaigns import VariantPlan, campaign_template, get_campaign, list_campaigns, preview_variants
from .checks import check_slots, recipient_holds, warning_ids
from .diffs import slot_diff
from .errors import NotFound
from .expiry import approval_expires_at
from .export import approval_evidence, list_exports, readiness
from .generation import Progress, progress
from .models import (
    Approval,
    Audience,
    Brand,
    Campaign,
    Comment,
    Draft,
    DraftRevision,
    Export,
    GenerationJob,
    Recipient,
    Role,
    Status,
    Template,
    TemplateVersion,
    User,
    Variant,
    pk,
)
from .step_views import StepPlan, step_plan
from .template_versions import list_templates
from .templates import Rendered, TemplateSpec, render
from .workflow import Action, get_actions, get_draft, valid_approvals


@dataclass(frozen=True)
class HeldBack:
    """Recipients whose own field values break the brand's rules: their messages do not ship."""

    count: int
    examples: list[dict[str, str]]  # the first few: recipient, audience group, reason
    reasons: list[tuple[str, int]]  # each distinct reason with its count, most frequent first

    def summary(self) -> str:
        return "; ".join(f"{why} ({n})" if n > 1 else why for why, n in self.reasons[:3]) + (" …" if len(self.reasons) > 3 else "")


def _held_back(session: Session, camp: Campaign, variant_id: int | None = None, *, shown: int = 5) -> HeldBack:
    holds = recipient_holds(session, camp, variant_id)
    if not holds:
        return HeldBack(0, [], [])
    labels = dict(session.exec(select(Variant.id, Variant.label).where(col(Variant.id).in_({h.variant_id for h in holds[:shown]}))).all())
    counts: dict[str, int] = {}
    for h in holds:
        counts[h.reason] = counts.get(h.reason, 0) + 1
    return HeldBack(
        len(holds),
        [{"Recipient": h.external_id, "Audience group": labels.get(h.variant_id, "?"), "Reason": h.reason} for h in holds[:shown]],
        sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
    )


def campaign_held_back(session: Session, actor: User, campaign_id: int) -> HeldBack:
    """The campaign's recipients held back at export by their own field values."""
    require_role(actor, *Role.ALL)
    return _held_back(session, get_campaign(session, campaign_id))


APPROVED_SOURCES = frozenset({"alternative", "base", "fallback", "no_consent"})  # slot texts nobody's model wrote


@dataclass
class DraftView:
    draft: Draft
    campaign: Campaign
    variant: Variant
    brand: Brand
    policy: BrandPolicy
    spec: TemplateSpec
    template_version: int
    recipient: Recipient
    recipient_shown: dict[str, str]
    rendered: Rendered
    actions: list[Action]
    warnings: list[tuple[str, dict[str, Any]]]  # (ack id, finding)
    approvals: list[dict[str, Any]]
    valid_approval_count: int
    revisions: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    author: str
    history_diffs: list[tuple[str, str]] = field(default_factory=list)  # (title, unified diff)
    held_back: HeldBack = field(default_factory=lambda: HeldBack(0, [], []))  # recipients of this audience group
    siblings: list[int] = field(default_factory=list)  # the campaign's drafts, in order (next / previous)
    plan: StepPlan | None = None  # the review steps and who signed what (review.step_views)

    @property
    def approval_expires_at(self) -> datetime | None:
        """When this draft's approval lapses (brand.yaml `approval_valid_days`, review.expiry);
        None when it holds no approval or the brand's approvals never expire."""
        return approval_expires_at(self.policy, self.draft)

    @property
    def no_model_text(self) -> bool:
        """Every slot holds approved or human-written text (a chosen alternative, an adapt slot's
        base, a fallback): nothing the model wrote. An edited slot does not count (a regenerated
        slot is recorded as an edit too)."""
        return bool(self.spec.slots) and all(self.draft.slot_meta.get(n, {}).get("source") in APPROVED_SOURCES for n in self.spec.slots)


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {pk(u): u.username for u in session.exec(select(User).where(col(User.id).in_(ids))).all()}


def draft_view(session: Session, actor: User, draft_id: int) -> DraftView:
    """Everything the draft page shows: message, findings, inputs, history, allowed actions."""
    require_role(actor, *Role.ALL)
    draft = get_draft(session, draft_id)
    camp = get_campaign(session, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    brand = session.get(Brand, camp.brand_id)
    if variant is None or brand is None:
        raise NotFound(f"draft {draft_id}'s variant or brand is missing")
    spec, tv = campaign_template(session, camp)
    policy = policy_for(brand)
    recipient = session.get(Recipient, variant.sample_recipient_id)
    if recipient is None:
        raise NotFound(f"sample recipient of draft {draft_id} is missing")
    shown = {k: v for k, v in recipient.data.items() if k not in policy.sensitive_fields}
    rendered = render(spec, shown, draft.slots, policy.as_render_context())
    ids = warning_ids(draft.findings)
    warns = [f for f in draft.findings if f.get("level") == "warning"]
    approvals = list(session.exec(select(Approval).where(Approval.draft_id == draft.id).order_by(col(Approval.signed_at))).all())
    revs = list(session.exec(select(DraftRevision).where(DraftRevision.draft_id == draft.id).order_by(col(DraftRevision.revision))).all())
    comments = list(session.exec(select(Comment).where(Comment.draft_id == draft.id).order_by(col(Comment.created_at))).all())
    names = _names(session, {r.edited_by for r in revs} | {c.user_id for c in comments} | {draft.author_id})
    diffs = []
    for prev, cur in zip(revs, revs[1:], strict=False):
        diffs.append((f"revision {prev.revision} → {cur.revision} ({_by(cur, names)}: {cur.note or 'no note'})", slot_diff(prev.slots, cur.slots)))
    return DraftView(
        draft=draft,
        campaign=camp,
        variant=variant,
        brand=brand,
        policy=policy,
        spec=spec,
        template_version=tv.version,
        recipient=recipient,
        recipient_shown=shown,
        rendered=rendered,
        actions=get_actions(session, draft, actor),
        plan=step_plan(session, actor, draft_id),
        warnings=list(zip(ids, warns, strict=True)),
        approvals=[
            {
                "revision": a.revision,
                "reviewer": a.full_name,
                "meaning": a.meaning,
                "step": a.step,
                "signed_at": a.signed_at,
                "valid": a.valid and a.revision == draft.revision,
                "void_reason": a.void_reason or ("earlier revision" if a.revision != draft.revision else ""),
                "manifest_hash": a.manifest_hash[:16],
            }
            for a in approvals
        ],
        valid_approval_count=len(valid_approvals(session, draft)),
        revisions=[
            {
                "revision": r.revision,
                "by": _by(r, names),
                "note": r.note,
                "at": r.created_at,
                "errors": sum(1 for f in r.findings if f.get("level") == "error"),
                "warnings": sum(1 for f in r.findings if f.get("level") == "warning"),
                "content_hash": r.content_hash[:12],
                "slots": r.slots,
            }
            for r in revs
        ],
        comments=[{"at": c.created_at, "by": names.get(c.user_id, "?"), "kind": c.kind, "revision": c.revision, "text": c.text} for c in comments],
        author=names.get(draft.author_id, "?"),
        history_diffs=diffs,
        held_back=_held_back(session, camp, variant.id),
        siblings=[i for i in session.exec(select(Draft.id).where(Draft.campaign_id == camp.id).order_by(col(Draft.id))).all() if i is not None],
    )


def _by(rev: DraftRevision, names: dict[int, str]) -> str:
    """Who wrote a revision: the model's text is the generator's, whoever started the job."""
    who = names.get(rev.edited_by, "?")
    if rev.revision == 1 and rev.note == "generated":
        return f"generator (model; job started by {who})"
    if rev.note.startswith("regenerated slot"):
        return f"model (asked by {who})"
    return who


def live_check(session: Session, actor: User, draft_id: int, slots: dict[str, str]) -> list[dict[str, Any]]:
    """Findings for edited slot text before it is saved (nothing is written)."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    draft = get_draft(session, draft_id)
    camp = get_campaign(session, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    assert variant is not None
    spec, _ = campaign_template(session, camp)
    cleaned = {**draft.slots, **{k: " ".join(v.split()) for k, v in slots.items()}}
    return check_slots(session, camp, variant, spec, cleaned)


@dataclass
class CampaignDraftRow:
    draft_id: int | None
    variant: str
    recipients: int
    personalized: bool
    status: str
    errors: int
    warnings: int
    fallbacks: int


def changes_requested(session: Session, draft_ids: list[int]) -> dict[int, Comment]:
    """The latest request for changes on each of these drafts that has one."""
    if not draft_ids:
        return {}
    latest: dict[int, Comment] = {}
    q = select(Comment).where(col(Comment.draft_id).in_(draft_ids), Comment.kind == "request_changes").order_by(col(Comment.id))
    for c in session.exec(q).all():
        latest[c.draft_id] = c
    return latest


@dataclass(frozen=True)
class CampaignDraftsPage:
    """One page of a campaign's drafts, plus the counts the page's buttons need."""

    rows: list[CampaignDraftRow]
    groups: int  # audience groups (variants)
    drafted: int
    ready: int  # error-free and submittable (a draft sent back and unchanged is not)
    unchanged: list[int]  # sent back for changes and not edited since
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.drafted // self.page_size))


def campaign_drafts(session: Session, actor: User, campaign_id: int, *, page: int = 1, page_size: int = 50) -> CampaignDraftsPage:
    """A page of the campaign's drafts (only the columns shown) and counts over all of them, so
    a 10,000-draft campaign costs one page, not 10,000 rows of slot text."""
    require_role(actor, *Role.ALL)
    get_campaign(session, campaign_id)
    in_campaign = col(Draft.campaign_id) == campaign_id
    groups = session.exec(select(func.count()).select_from(Variant).where(Variant.campaign_id == campaign_id)).one()
    drafted = session.exec(select(func.count()).select_from(Draft).where(in_campaign)).one()
    clean_checked = session.exec(select(func.count()).select_from(Draft).where(in_campaign, Draft.status == Status.CHECKED, Draft.error_count == 0)).one()
    sent_back = session.exec(select(Draft.id, Draft.revision, Draft.error_count).where(in_campaign, Draft.status == Status.NEEDS_CHANGES)).all()
    asked = changes_requested(session, [i for i, _, _ in sent_back if i is not None])
    unchanged = sorted(i for i, rev, _ in sent_back if i is not None and i in asked and asked[i].revision == rev)
    ready = int(clean_checked) + sum(1 for i, _, errors in sent_back if errors == 0 and i not in unchanged)
    page = max(1, min(page, max(1, -(-int(drafted) // page_size))))
    q = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() for up to 4 columns
            Draft.id, Variant.label, Variant.recipient_count, Variant.personalized, Draft.status, Draft.error_count, Draft.warning_count, Draft.fallback_count
        )
        .join(Variant, col(Variant.id) == col(Draft.variant_id))
        .where(in_campaign)
        .order_by(col(Draft.id))
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = [
        CampaignDraftRow(i, label, n, personalized, status, errors, warnings, fallbacks)
        for i, label, n, personalized, status, errors, warnings, fallbacks in session.exec(q).all()
    ]
    return CampaignDraftsPage(rows, int(groups), int(drafted), ready, unchanged, page, page_size)


# ------------------------------------------------------------------ campaigns page


def brand_names(session: Session, actor: User) -> dict[int, str]:
    require_role(actor, *Role.ALL)
    return {pk(b): b.name for b in session.exec(select(Brand)).all()}


def latest_job(session: Session, actor: User, campaign_id: int) -> GenerationJob | None:
    """The campaign's most recent generation job, if any."""
    require_role(actor, *Role.ALL)
    return session.exec(select(GenerationJob).where(GenerationJob.campaign_id == campaign_id).order_by(col(GenerationJob.id).desc())).first()


def job_progress(session: Session, actor: User, job_id: int) -> Progress:
    require_role(actor, *Role.ALL)
    return progress(session, job_id)


def brands_by_slug(session: Session, actor: User) -> dict[str, Brand]:
    """Every configured brand, by its folder name, in name order."""
    require_role(actor, *Role.ALL)
    return {b.slug: b for b, _ in list_brands(session)}


def signed_in_user(session: Session, user_id: int) -> User | None:
    """The account behind a signed-in browser session (None when it is gone); the caller checks
    that it is still active."""
    return session.get(User, user_id)


def audiences(session: Session, actor: User) -> list[Audience]:
    """Every audience, newest first."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    return list_audiences(session)


def audience_sample(session: Session, actor: User, audience_id: int, limit: int = 25) -> list[Recipient]:
    """The first recipients of an audience (the template preview renders for one of them)."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    return sample_recipients(session, audience_id, limit)


def templates(session: Session, actor: User) -> list[tuple[Template, Brand, TemplateVersion]]:
    """Every template with its brand and latest version."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    return list_templates(session)


def campaigns(session: Session, actor: User) -> list[Campaign]:
    """Every campaign, newest first."""
    require_role(actor, *Role.ALL)
    return list_campaigns(session)


def campaign_plan(session: Session, actor: User, template_version_id: int, audience_id: int) -> list[VariantPlan]:
    """The audience groups a new campaign would make, before it is created."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    return preview_variants(session, template_version_id, audience_id)


@dataclass(frozen=True)
class ExportsView:
    """A campaign's exports (newest first), its signature evidence and, while it has never been
    published, why it cannot be yet (empty: ready)."""

    exports: list[Export]
    evidence: list[dict[str, Any]]
    not_ready: list[str]


def campaign_exports(session: Session, actor: User, campaign_id: int) -> ExportsView:
    """Readiness is checked only before the first export: once published, its drafts are
    "published", which a check for publishing again would list as "not approved"."""
    require_role(actor, *Role.ALL)
    exports = list_exports(session, campaign_id)
    not_ready = [] if exports else readiness(session, campaign_id)
    return ExportsView(exports, approval_evidence(session, campaign_id), not_ready)
