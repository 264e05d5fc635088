"""Campaigns: a template version times an audience, grouped into variants.

Recipients who share the values of every field the template's slots may see share one
variant, so the model fills it once and a reviewer reviews it once. Recipients without
personalization consent all share one variant made of the human-written fallbacks.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, col, select

from . import audit
from .auth import require_role
from .brands import policy_for
from .checks import recipient_holds
from .due_dates import normalize_due
from .errors import Conflict, InvalidInput, NotFound
from .models import Audience, Brand, Campaign, CampaignRecipient, Recipient, Role, TemplateVersion, User, Variant, pk
from .template_versions import get_version, version_spec
from .templates import TemplateSpec

NO_CONSENT_KEY = "no-consent"


@dataclass(frozen=True)
class VariantPlan:
    key: str
    label: str
    inputs: dict[str, str]
    personalized: bool
    recipient_ids: list[int]


def variant_key(inputs: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def plan_variants(spec: TemplateSpec, recipients: list[Recipient]) -> list[VariantPlan]:
    """Group recipients; refuse if any lacks a field the template needs."""
    slot_fields = spec.slot_fields()
    needed = sorted(set(slot_fields) | set(spec.merge_fields))
    missing: dict[str, list[str]] = defaultdict(list)
    groups: dict[str, list[Recipient]] = defaultdict(list)
    no_consent: list[Recipient] = []
    for r in recipients:
        for f in needed:
            # A merge field is printed for everyone; a slot field only matters with consent.
            if not str(r.data.get(f, "")).strip() and (f in spec.merge_fields or r.consent):
                missing[f].append(r.external_id)
        if r.consent:
            groups[json.dumps({f: r.data.get(f, "") for f in slot_fields}, sort_keys=True, ensure_ascii=False)].append(r)
        else:
            no_consent.append(r)
    if missing:
        f, ids = sorted(missing.items())[0]
        more = f" (and {len(ids) - 5} more)" if len(ids) > 5 else ""
        raise InvalidInput(f"{len(ids)} recipient(s) have no value for '{f}', which the template uses: ids {', '.join(ids[:5])}{more}")
    plans = []
    for raw, members in sorted(groups.items()):
        inputs = json.loads(raw)
        label = ", ".join(f"{k}={v}" for k, v in inputs.items()) or "everyone with consent"
        plans.append(VariantPlan(variant_key(inputs), label, inputs, True, _ids(members)))
    if no_consent:
        plans.append(VariantPlan(NO_CONSENT_KEY, "no personalization consent (fallbacks)", {}, False, _ids(no_consent)))
    return plans


def _ids(recipients: list[Recipient]) -> list[int]:
    return [r.id for r in recipients if r.id is not None]  # stored recipients: every one has an id


def preview_variants(session: Session, template_version_id: int, audience_id: int) -> list[VariantPlan]:
    tv = get_version(session, template_version_id)
    spec, _ = version_spec(session, tv)
    recipients = session.exec(select(Recipient).where(Recipient.audience_id == audience_id).order_by(col(Recipient.id))).all()
    if not recipients:
        raise InvalidInput(f"audience {audience_id} has no recipients")
    return plan_variants(spec, list(recipients))


def create_campaign(session: Session, actor: User, *, name: str, template_version_id: int, audience_id: int, due_at: datetime | None = None) -> Campaign:
    """`due_at`: when its review is due (optional; review.due_dates), its drafts in review inherit it."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    due = normalize_due(due_at)
    name = name.strip()
    if not name:
        raise InvalidInput("a campaign needs a name")
    if session.exec(select(Campaign).where(Campaign.name == name)).first():
        raise Conflict(f"a campaign named '{name}' already exists")
    aud = session.get(Audience, audience_id)
    if aud is None:
        raise NotFound(f"audience {audience_id} not found")
    tv = get_version(session, template_version_id)
    spec, brand = version_spec(session, tv)
    if aud.brand_id is None:
        raise InvalidInput(f"audience '{aud.name}' was imported before audiences belonged to a brand: import it again for brand '{brand.slug}'")
    if aud.brand_id != brand.id:
        other = session.get(Brand, aud.brand_id)
        raise InvalidInput(
            f"audience '{aud.name}' belongs to brand '{other.slug if other else aud.brand_id}', not '{brand.slug}': "
            f"its values were checked against that brand's fields; import it for '{brand.slug}'"
        )
    policy = policy_for(brand)
    for f in set(spec.slot_fields()) | set(spec.merge_fields):
        if f in policy.sensitive_fields or f not in policy.allowed_fields:
            # The brand policy may have tightened since the template was saved.
            raise InvalidInput(f"the template uses '{f}', which brand '{brand.slug}' no longer allows; save a new template version")
    plans = preview_variants(session, template_version_id, audience_id)
    camp = Campaign(name=name, brand_id=pk(brand), template_version_id=pk(tv), audience_id=audience_id, channel=spec.channel, created_by=pk(actor), due_at=due)
    session.add(camp)
    session.flush()
    assert camp.id is not None  # flushed
    links: list[dict[str, int | None]] = []
    for p in plans:
        v = Variant(
            campaign_id=camp.id,
            key=p.key,
            label=p.label,
            inputs=p.inputs,
            personalized=p.personalized,
            recipient_count=len(p.recipient_ids),
            sample_recipient_id=p.recipient_ids[0],
        )
        session.add(v)
        session.flush()
        links.extend({"campaign_id": camp.id, "recipient_id": rid, "variant_id": v.id} for rid in p.recipient_ids)
    session.execute(insert(CampaignRecipient), links)
    audit.append(
        session,
        actor=actor.username,
        action="campaign_created",
        entity="campaign",
        entity_id=camp.id,
        after={
            "name": name,
            "template_version_id": tv.id,
            "audience_id": audience_id,
            "variants": len(plans),
            "recipients": len(links),
            "held_back": len(recipient_holds(session, camp)),
            "due_at": due.isoformat() if due else None,
        },
    )
    return camp


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    camp = session.get(Campaign, campaign_id)
    if camp is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return camp


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.exec(select(Campaign).order_by(col(Campaign.created_at).desc())).all())


def campaign_variants(session: Session, campaign_id: int) -> list[Variant]:
    return list(session.exec(select(Variant).where(Variant.campaign_id == campaign_id).order_by(col(Variant.id))).all())


def campaign_template(session: Session, camp: Campaign) -> tuple[TemplateSpec, TemplateVersion]:
    tv = get_version(session, camp.template_version_id)
    spec, _ = version_spec(session, tv)
    return spec, tv
