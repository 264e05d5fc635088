"""Changing a draft's text: `edit_draft` (re-exported by review.workflow, which offers it as
the `edit` action).

An edit re-checks the new text, records a revision, voids every signature given so far, moves
annotations with their words, and sends an approved or in-review draft back to review (or out of
it when the new text has errors), all under the draft's lock in the caller's transaction.
"""

from __future__ import annotations

from sqlmodel import Session

from . import audit, textsafety
from .annotations import reanchor as reanchor_annotations
from .auth import require_role
from .errors import Conflict, InvalidInput, InvalidTransition
from .locks import lock_draft
from .models import Draft, DraftRevision, Role, Status, User, pk, utcnow
from .rechecks import recheck
from .signing import draft_content_hash
from .transitions import EDITABLE, last_change, transition, void_approvals

S = Status


def edit_draft(session: Session, actor: User, draft_id: int, *, slots: dict[str, str], note: str = "", expected_revision: int | None = None) -> Draft:
    """Replace slot texts. Re-checks, and voids any approval: the new text must be reviewed again.

    `expected_revision` is the revision the editor was shown: if someone else changed the draft
    since, the edit is refused instead of silently overwriting their text.
    """
    require_role(actor, Role.MARKETER, Role.ADMIN)
    draft = lock_draft(session, draft_id)
    if draft.status not in EDITABLE:
        raise InvalidTransition(f"{last_change(session, draft)} and can no longer be edited")
    if expected_revision is not None and expected_revision != draft.revision:
        raise Conflict(f"{last_change(session, draft)} (now revision {draft.revision}, you edited revision {expected_revision}); reload and edit the new text")
    unknown = set(slots) - set(draft.slots)
    if unknown:
        raise InvalidInput(f"unknown slot '{sorted(unknown)[0]}' (this draft has {', '.join(draft.slots)})")
    textsafety.check_slot_texts(slots)  # on the raw texts: collapsing whitespace would hide some
    new_slots = {**draft.slots, **{k: " ".join(str(v).split()) for k, v in slots.items()}}
    empty = [k for k, v in new_slots.items() if not v]
    if empty:
        raise InvalidInput(f"slot '{empty[0]}' cannot be empty")
    if new_slots == draft.slots:
        raise InvalidInput("nothing changed")
    before = {"revision": draft.revision, "slots": draft.slots, "content_hash": draft.content_hash, "status": draft.status}
    meta = dict(draft.slot_meta)
    for k in slots:
        if new_slots[k] != draft.slots[k]:
            meta[k] = {**meta.get(k, {}), "source": "edited", "edited_by": actor.username}
    draft.slots = new_slots
    draft.slot_meta = meta
    draft.revision += 1
    draft.content_hash = draft_content_hash(session, draft)
    findings = recheck(session, draft)
    session.add(
        DraftRevision(
            draft_id=pk(draft),
            revision=draft.revision,
            slots=new_slots,
            findings=findings,
            content_hash=draft.content_hash,
            edited_by=pk(actor),
            note=note.strip(),
        )
    )
    draft.updated_at = utcnow()
    session.add(draft)
    reanchor_annotations(session, actor, draft)  # offsets follow the quoted words, or go outdated
    voided = void_approvals(session, actor, draft, f"edited to revision {draft.revision}")
    audit.append(
        session,
        actor=actor.username,
        action="draft_edited",
        entity="draft",
        entity_id=draft.id,
        before=before,
        after={
            "revision": draft.revision,
            "slots": new_slots,
            "content_hash": draft.content_hash,
            "errors": draft.error_count,
            "warnings": draft.warning_count,
            "approvals_voided": voided,
        },
    )
    if draft.status in (S.APPROVED, S.IN_REVIEW):
        # An edit after approval voids it and sends the draft back to review — unless the
        # new text now has errors, which may never sit in the review queue.
        target = S.CHECKED if draft.error_count else S.IN_REVIEW
        if target != draft.status:
            transition(session, draft, target, actor, reason="edited after review started")
    return draft
