"""The claims library: retiring a claim re-checks every draft that used it.

Claims live in `brand_guidelines/<brand>/claims.yaml`, owned by the brand team. Retiring one
edits only its `status:` value in place (comments and layout survive), then every draft whose
check report matched that claim is re-checked; approved ones lose their signatures and go
back to review, because the report they signed is no longer true.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlmodel import Session, col, select

from . import audit, yamlsafe
from .auth import require_role
from .checks import brand_rules, forget_stamps
from .config import settings
from .db import after_outcome
from .errors import NotFound, WorkflowError
from .locks import lock_rows
from .models import Brand, Campaign, Draft, Role, User
from .workflow import EDITABLE, recheck_drafts


def _write(path: Path, text: str) -> None:
    """Replace the claims file atomically; the next check re-reads it (forget_stamps)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".claims-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    forget_stamps()


@dataclass(frozen=True)
class RetireResult:
    claim_id: str
    drafts_rechecked: int
    drafts_changed: list[int]


def _status_position(text: str, claim_id: str, path: Path) -> tuple[int, int, int]:
    """(line index, start col, end col) of the claim's status value in the YAML text."""
    try:
        root = yamlsafe.loads(text).node
    except yamlsafe.YamlRefused as e:
        raise WorkflowError(f"{path}:{e.line or 1}: {e.reason}") from None
    if not isinstance(root, yaml.SequenceNode):
        raise WorkflowError(f"{path}: expected a list of claims")
    for item in root.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in item.value}
        if str(getattr(fields.get("id"), "value", "")) != claim_id:
            continue
        status = fields.get("status")
        if status is None:
            raise WorkflowError(f"{path}:{item.start_mark.line + 1}: claim {claim_id} has no 'status' to change")
        if status.start_mark.line != status.end_mark.line:
            raise WorkflowError(f"{path}:{status.start_mark.line + 1}: claim {claim_id}'s status spans lines")
        return status.start_mark.line, status.start_mark.column, status.end_mark.column
    raise NotFound(f"claim {claim_id} not found in {path}")


def retire_claim(session: Session, actor: User, brand_slug: str, claim_id: str, *, reason: str) -> RetireResult:
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    reason = reason.strip()
    if len(reason) < 3:
        raise WorkflowError("retiring a claim needs a reason (e.g. the evidence expired)")
    brand = session.exec(select(Brand).where(Brand.slug == brand_slug)).first()
    if brand is None:
        raise NotFound(f"brand '{brand_slug}' not found")
    # One retirement per brand at a time: the second of two waits, then reads the file again.
    lock_rows(session, Brand, [brand.id])  # type: ignore[list-item]
    forget_stamps()
    rules, _ = brand_rules(brand_slug)
    claim = next((c for c in rules.claims if c.id == claim_id), None)
    if claim is None:
        raise NotFound(f"brand '{brand_slug}' has no claim {claim_id}")
    if claim.status == "retired":
        raise WorkflowError(f"claim {claim_id} is already retired")
    path = Path(settings().guidelines_dir) / brand_slug / "claims.yaml"
    text = path.read_text(encoding="utf-8")
    line, start, end = _status_position(text, claim_id, path)
    lines = text.splitlines(keepends=True)
    lines[line] = lines[line][:start] + "retired" + lines[line][end:]
    _write(path, "".join(lines))
    # The re-check below must see the retired claim, so the file changes now; if the
    # transaction then rolls back, the file goes back to what it said.
    after_outcome(session, rolled_back=lambda: _write(path, text))
    audit.append(
        session,
        actor=actor.username,
        action="claim_retired",
        entity="claim",
        entity_id=f"{brand_slug}/{claim_id}",
        before={"status": claim.status},
        after={"status": "retired", "reason": reason},
    )
    # Drafts "used" the claim when their stored check report matched it.
    candidates = session.exec(
        select(Draft).join(Campaign, col(Campaign.id) == col(Draft.campaign_id)).where(Campaign.brand_id == brand.id, col(Draft.status).in_(sorted(EDITABLE)))
    ).all()
    used = [d.id for d in candidates if any(f.get("claim_id") == claim_id for f in d.findings)]
    changed = recheck_drafts(session, actor, used, reason=f"claim {claim_id} retired: {reason}")  # type: ignore[arg-type]
    return RetireResult(claim_id, len(used), changed)
