"""Runs a brand's guidelines over a draft: the bridge between drafts and the rule engine."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from .brands import BrandPolicy, load_brand
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
    """The compiled rule set and policy of a brand, compiled once and reused until files change."""
    directory = Path(root or settings().guidelines_dir) / slug
    stamp = _stamp(directory)
    with _lock:
        hit = _cache.get(directory)
        if hit and hit[0] == stamp:
            return hit[1], hit[2]
    policy = load_brand(directory)
    rules = load_ruleset(directory)
    with _lock:
        _cache[directory] = (stamp, rules, policy)
    return rules, policy


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
    )


def check_slots(session: Session, campaign: Campaign, variant: Variant, spec: TemplateSpec, slots: dict[str, str]) -> list[dict[str, Any]]:
    brand = session.get(Brand, campaign.brand_id)
    recipient = session.get(Recipient, variant.sample_recipient_id)
    assert brand is not None and recipient is not None
    rules, policy = brand_rules(brand.slug)
    findings = rules.check(build_context(spec, policy, slots, variant, recipient))
    return [f.to_dict() for f in findings]


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


__all__ = ["Finding", "brand_rules", "build_context", "check_slots", "summarize", "warning_ids", "apply_findings"]
