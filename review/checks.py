"""Runs a brand's guidelines over a draft: the bridge between drafts and the rule engine."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from . import channels
from .brands import BrandPolicy, policy_for
from .config import settings
from .guidelines import CheckContext, Finding, RuleSet, load_ruleset
from .models import Brand, Campaign, Draft, Recipient, Variant
from .templates import TemplateSpec, render

_lock = threading.Lock()
_cache: dict[Path, tuple[int, RuleSet, BrandPolicy]] = {}
_stamps: dict[Path, tuple[float, int]] = {}  # directory -> (checked at, stamp)
# Walking the rule files on every draft would dominate a 10,000-draft campaign; edits are
# picked up within this many seconds instead.
STAMP_TTL = 1.0


def _stamp(directory: Path) -> int:
    """Newest modification time of any guideline file, so edits are picked up without a restart."""
    now = time.monotonic()
    seen = _stamps.get(directory)
    if seen is not None and now - seen[0] < STAMP_TTL:
        return seen[1]
    roots = [directory, directory.parent / "_base"]
    stamp = max((p.stat().st_mtime_ns for r in roots if r.exists() for p in r.rglob("*") if p.is_file()), default=0)
    _stamps[directory] = (now, stamp)
    return stamp


def forget_stamps() -> None:
    """Make the next check re-read the guideline files at once (after the app edits one)."""
    _stamps.clear()


def brand_rules(slug: str, root: Path | None = None) -> tuple[RuleSet, BrandPolicy]:
    """The compiled rule set and policy of a brand, compiled once and reused until files change.

    The policy is brands.load_brand's (re-read as soon as brand.yaml changes); the rule set is
    rebuilt when any guideline file changed (seen within STAMP_TTL) or brand.yaml did."""
    base = Path(root or settings().guidelines_dir)
    directory = base / slug
    policy = policy_for(slug, base)
    stamp = _stamp(directory)
    with _lock:
        hit = _cache.get(directory)
        if hit and hit[0] == stamp and hit[2] is policy:
            return hit[1], policy
    rules = load_ruleset(directory)
    with _lock:
        _cache[directory] = (stamp, rules, policy)
    return rules, policy


_STAGED_RULES = "countersign.staged_rules"


def stage_rules(session: Session, slug: str, rules: RuleSet) -> None:
    """Check this session's drafts of `slug` against `rules` until its transaction ends: the
    rules as a file edit staged in the same unit of work will make them (review.claims)."""
    session.info.setdefault(_STAGED_RULES, {})[slug] = rules


def unstage_rules(session: Session, slug: str) -> None:
    session.info.get(_STAGED_RULES, {}).pop(slug, None)


def session_rules(session: Session, slug: str) -> tuple[RuleSet, BrandPolicy]:
    """brand_rules, or the rules a file edit staged in this session will make."""
    staged = session.info.get(_STAGED_RULES, {}).get(slug)
    return (staged, policy_for(slug)) if staged is not None else brand_rules(slug)


def build_context(spec: TemplateSpec, policy: BrandPolicy, slots: dict[str, str], variant: Variant, recipient: Recipient) -> CheckContext:
    shown = {k: v for k, v in recipient.data.items() if k not in policy.sensitive_fields}
    rendered = render(spec, shown, slots, policy.as_render_context())
    return CheckContext(
        message=rendered.body,
        subject=rendered.subject,
        slots=dict(slots),
        slot_max_words={k: s.max_words for k, s in spec.slots.items()},
        slot_inputs={k: ({f: variant.inputs.get(f, "") for f in s.inputs} if variant.personalized else {}) for k, s in spec.slots.items()},
        recipient=dict(recipient.data),
        fixed_segments=list(rendered.fixed_segments),
        slot_sequence=list(rendered.slot_sequence),
        personalized=variant.personalized,
        slot_examples={k: list(s.examples) for k, s in spec.slots.items()},
        slot_instructions={k: s.instruction for k, s in spec.slots.items()},
        field_values={f.name: f.values for f in policy.fields if f.values},
        slot_approved={k: s.approved_wording() for k, s in spec.slots.items()},
        slot_must_name={k: s.must_name for k, s in spec.slots.items() if s.must_name},
    )


def check_slots(session: Session, campaign: Campaign, variant: Variant, spec: TemplateSpec, slots: dict[str, str]) -> list[dict[str, Any]]:
    brand = session.get(Brand, campaign.brand_id)
    recipient = session.get(Recipient, variant.sample_recipient_id)
    assert brand is not None and recipient is not None
    rules, policy = session_rules(session, brand.slug)
    return [f.to_dict() for f in check_message(rules, policy, spec, build_context(spec, policy, slots, variant, recipient))]


def check_message(rules: RuleSet, policy: BrandPolicy, spec: TemplateSpec, ctx: CheckContext) -> list[Finding]:
    """The brand's rules plus the channel's limits on one rendered message."""
    found = rules.check(ctx)
    extra = [Finding.from_dict(channels.finding(msg)) for msg in channels.problems(spec.channel, ctx.subject, ctx.message, policy.channels)]
    return found + extra if extra else found


# Rule types that embed each slot fill (review.embedding); the others cost microseconds.
EMBEDDING_TYPES = frozenset({"relevance", "contradiction"})


def embed_candidates(rules: RuleSet, texts: list[str]) -> None:
    """Encode best-of-N candidates in ONE batch before they are checked one at a time, so each
    check finds its fill's vector cached (measured here: 36 ms per text in a batch of 128 against
    536 ms one at a time on the shared CPUs). Nothing happens for a brand without such rules."""
    wanted = [t for t in texts if t and t.strip()]
    if wanted and any(r.type in EMBEDDING_TYPES for r in rules.rules):
        from .embedding import get_embedder

        get_embedder().encode(wanted)


def embed_slot_texts(slug: str, slot_maps: list[dict[str, str]]) -> None:
    """Before re-checking many drafts one at a time (export, a brand re-check), encode all their
    slot texts in batches, so the sense detectors find every vector cached."""
    rules, _ = brand_rules(slug)
    embed_candidates(rules, [t for slots in slot_maps for t in slots.values()])


def summarize(findings: list[dict[str, Any]]) -> tuple[int, int]:
    errors = sum(1 for f in findings if f.get("level") == "error")
    warnings = sum(1 for f in findings if f.get("level") == "warning")
    return errors, warnings


def warning_ids(findings: list[dict[str, Any]]) -> list[str]:
    """Stable ids for the warnings a reviewer must acknowledge."""
    out = []
    for f in findings:
        if f.get("level") == "warning":
            span = f.get("span") or ["", ""]
            out.append(f"{f['rule']}@{f.get('scope')}:{f.get('slot') or ''}:{span[0]}-{span[1]}")
    return out


def apply_findings(draft: Draft, findings: list[dict[str, Any]]) -> None:
    draft.findings = findings
    draft.error_count, draft.warning_count = summarize(findings)


# ------------------------------------------------------------------ every recipient's message


def unsafe_character(value: str) -> str | None:
    """The first character a printed field value may not hold (a line break, an invisible or
    bidi control: it could reshape a subject line or hide text from the reviewer), described."""
    from .textsafety import describe, find_unsafe

    at = find_unsafe(value, multiline=False)
    return None if at is None else describe(value[at])


@dataclass(frozen=True)
class Hold:
    """A recipient whose own field values would break the rules: their message does not ship."""

    recipient_id: int
    external_id: str
    variant_id: int
    reason: str


def recipient_holds(session: Session, campaign: Campaign, variant_id: int | None = None) -> list[Hold]:
    """Every recipient whose merge-field values (printed into the fixed copy or the subject)
    raise an error under the brand's current rules, with the reason.

    The slot texts are checked once per variant (the draft's findings); what differs between
    recipients of one variant is only their merge values, so each distinct value of each field
    is checked once: 200,000 recipients with 3,000 first names cost 3,000 checks.
    """
    from sqlmodel import col, select

    from .models import CampaignRecipient
    from .template_versions import get_version, version_spec

    brand = session.get(Brand, campaign.brand_id)
    assert brand is not None
    rules, policy = session_rules(session, brand.slug)
    spec, _ = version_spec(session, get_version(session, campaign.template_version_id))
    fields = [f for f in spec.merge_fields if f not in policy.sensitive_fields]
    if not fields:
        return []
    verdicts: dict[tuple[str, str], str | None] = {}

    def verdict(field_name: str, value: str) -> str | None:
        key = (field_name, value)
        if key not in verdicts:
            shown = value if len(value) <= 40 else value[:37] + "..."
            bad = unsafe_character(value)
            errors = [] if bad else [f for f in rules.check_value(value) if f.level == "error"]
            if bad:
                verdicts[key] = f"{field_name} holds {bad}"
            elif errors:
                verdicts[key] = f"{field_name} {shown!r} breaks {errors[0].rule}: {errors[0].message}"
            else:
                verdicts[key] = None
        return verdicts[key]

    q = (
        select(CampaignRecipient.variant_id, Recipient.id, Recipient.external_id, Recipient.data)
        .join(Recipient, col(Recipient.id) == col(CampaignRecipient.recipient_id))
        .where(CampaignRecipient.campaign_id == campaign.id)
        .order_by(col(Recipient.id))
    )
    if variant_id is not None:
        q = q.where(CampaignRecipient.variant_id == variant_id)
    out = []
    for vid, rid, ext, data in session.exec(q).all():
        for f in fields:
            why = verdict(f, str((data or {}).get(f, "")))
            if why:
                assert rid is not None and vid is not None  # stored rows have ids
                out.append(Hold(rid, ext, vid, why))
                break
    return out


__all__ = [
    "Finding",
    "brand_rules",
    "session_rules",
    "stage_rules",
    "unstage_rules",
    "build_context",
    "check_slots",
    "summarize",
    "warning_ids",
    "apply_findings",
    "embed_candidates",
    "recipient_holds",
    "Hold",
    "unsafe_character",
]
