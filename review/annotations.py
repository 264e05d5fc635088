"""Span annotations: a reviewer points at words in one slot of a draft and comments on them; the
author replies and resolves; a reviewer may reopen.

States: open → answered (the author replied) → resolved, and back to open when a reviewer
reopens one. A draft goes back to review only when none of its annotations is open
(`submit_problem`, called by workflow._submit_problem). Every change is taken under the draft's
lock (review.locks), re-reads the annotation inside it, and appends an audit event on the draft
(`annotation_*`, with the annotation's id), in the caller's transaction. Actions carry the state
the user saw (`expected_state`): of two people resolving and reopening one annotation at once,
the second is refused with a message naming the first.

Offsets survive edits: `reanchor` (called by workflow.edit_draft on every new revision) moves
each annotation to the occurrence of its quoted words nearest its old place, or marks it
outdated when the words are gone (it keeps the old quote and must still be answered or resolved).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from . import audit, textsafety
from .auth import require_role
from .errors import Conflict, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from .locks import lock_draft
from .models import Annotation, AnnotationReply, AnnotationState, Draft, Role, Status, User, pk, utcnow
from .signing import authors
from .transitions import EDITABLE, last_change

A = AnnotationState
MAX_TEXT = 4000  # characters in a comment or a reply
MAX_QUOTE = 500  # characters in the quoted words
CONTEXT = 30  # characters shown either side of an occurrence when the reviewer must pick one
VERBS = {"created": "raised", "reply": "answered", "resolve": "resolved", "reopen": "reopened"}


# ------------------------------------------------------------------ finding and moving spans


def normalize_words(words: str) -> str:
    """The words as slot text holds them: edit_draft collapses every run of whitespace to one space."""
    return " ".join(str(words or "").split())


def occurrences(text: str, words: str) -> list[int]:
    """Where `words` starts in `text`, every occurrence (overlapping ones too), in order."""
    found: list[int] = []
    if not words:
        return found
    at = text.find(words)
    while at != -1:
        found.append(at)
        at = text.find(words, at + 1)
    return found


def relocate(text: str, quote: str, old_start: int) -> int | None:
    """The start of the occurrence of `quote` in `text` nearest `old_start` (the earlier one on a
    tie), or None when the words no longer occur."""
    starts = occurrences(text, quote)
    return min(starts, key=lambda s: (abs(s - old_start), s)) if starts else None


@dataclass(frozen=True)
class Occurrence:
    """One place the reviewer's words occur in a slot, with a little text either side."""

    number: int  # 1-based, in reading order: what `annotate(occurrence=...)` takes
    start: int
    end: int
    before: str
    after: str


def locate(slot_text: str, slot: str, words: str) -> list[Occurrence]:
    """Every occurrence of `words` in one slot's text; InvalidInput when there is none."""
    words = normalize_words(words)
    if not words:
        raise InvalidInput(f"type or paste the words in slot '{slot}' that the annotation is about")
    if len(words) > MAX_QUOTE:
        raise InvalidInput(f"the words to annotate are {len(words)} characters long; point at {MAX_QUOTE} at most")
    textsafety.check_plain_text(words, "the words to annotate", multiline=False)
    starts = occurrences(slot_text, words)
    if not starts:
        hint = ""
        folded = slot_text.casefold().find(words.casefold())
        if folded != -1 and len(slot_text.casefold()) == len(slot_text):
            hint = f" (it has '{slot_text[folded : folded + len(words)]}', which differs in upper and lower case)"
        raise InvalidInput(f"the words '{words}' do not occur in slot '{slot}'{hint}; copy them exactly from the slot text shown")
    return [
        Occurrence(n, s, s + len(words), slot_text[max(0, s - CONTEXT) : s], slot_text[s + len(words) : s + len(words) + CONTEXT])
        for n, s in enumerate(starts, start=1)
    ]


def anchor(ann: Annotation, slot_text: str) -> tuple[int, int, bool]:
    """Where an annotation stands in this slot text: (start, end, outdated). Unchanged when the
    quoted words are still at its offsets; otherwise the nearest occurrence; otherwise outdated
    at its old offsets."""
    if slot_text[ann.start_offset : ann.end_offset] == ann.quote:
        return ann.start_offset, ann.end_offset, False
    start = relocate(slot_text, ann.quote, ann.start_offset)
    if start is None:
        return ann.start_offset, ann.end_offset, True
    return start, start + len(ann.quote), False


def reanchor(session: Session, actor: User, draft: Draft) -> int:
    """Bring every annotation of the draft to its current revision (workflow.edit_draft calls
    this under the draft's lock, after the new text is set). Each annotation that moved, went
    outdated or found its words again gets an audit event; returns how many did."""
    changed = 0
    for ann in _annotations(session, pk(draft)):
        if ann.anchored_revision == draft.revision:
            continue
        start, end, outdated = anchor(ann, draft.slots.get(ann.slot, ""))
        before = {"annotation_id": ann.id, "start": ann.start_offset, "end": ann.end_offset, "outdated": ann.outdated, "revision": ann.anchored_revision}
        moved = (start, end, outdated) != (ann.start_offset, ann.end_offset, ann.outdated)
        ann.start_offset, ann.end_offset, ann.outdated, ann.anchored_revision = start, end, outdated, draft.revision
        session.add(ann)
        if moved:
            changed += 1
            action = "annotation_outdated" if outdated else "annotation_moved"
            after = {"annotation_id": ann.id, "slot": ann.slot, "quote": ann.quote, "start": start, "end": end, "outdated": outdated}
            after["revision"] = draft.revision
            audit.append(session, actor=actor.username, action=action, entity="draft", entity_id=draft.id, before=before, after=after)
    return changed


# ------------------------------------------------------------------ who may do what


def allowed(ann: Annotation, draft: Draft, user: User, wrote: set[int]) -> tuple[str, ...]:
    """What this user may do to this annotation now (`wrote`: the draft's authors and editors).
    The page offers exactly these; each service checks again under the draft's lock."""
    if not user.active or draft.status not in EDITABLE:
        return ()
    author_side = user.role in (Role.MARKETER, Role.ADMIN)
    reviewer = user.role == Role.REVIEWER and user.id not in wrote
    acts: list[str] = []
    if (author_side or reviewer) and ann.state != A.RESOLVED:
        acts.append("reply")
    if ann.state != A.RESOLVED and (author_side or (reviewer and ann.created_by == user.id)):
        acts.append("resolve")
    if reviewer and ann.state != A.OPEN:
        acts.append("reopen")
    return tuple(acts)


def can_annotate(draft: Draft, user: User, wrote: set[int]) -> bool:
    return user.active and user.role == Role.REVIEWER and user.id not in wrote and draft.status == Status.IN_REVIEW


# ------------------------------------------------------------------ services


def annotate(
    session: Session,
    actor: User,
    draft_id: int,
    *,
    slot: str,
    words: str,
    comment: str,
    occurrence: int | None = None,
    expected_revision: int | None = None,
) -> Annotation:
    """A reviewer's comment on `words` in `slot`. When the words occur more than once, the
    reviewer says which (`occurrence`, 1-based, as `find_words` numbers them)."""
    require_role(actor, Role.REVIEWER)
    draft = lock_draft(session, draft_id)
    if actor.id in authors(session, draft):
        raise PermissionDenied(f"{actor.username} wrote or edited draft {draft.id} and cannot review it", **_attempt(actor, "annotate", draft))
    if draft.status != Status.IN_REVIEW:
        raise InvalidTransition(f"{last_change(session, draft)}; annotations are made while a draft is in review")
    if expected_revision is not None and expected_revision != draft.revision:
        raise Conflict(f"{last_change(session, draft)} (now revision {draft.revision}, you read revision {expected_revision}); read the new text first")
    if slot not in draft.slots:
        raise InvalidInput(f"unknown slot '{slot}' (draft {draft.id} has {', '.join(draft.slots)})")
    found = locate(draft.slots[slot], slot, words)
    if occurrence is None and len(found) > 1:
        where = ", ".join(f"#{o.number} after '…{o.before[-12:]}'" for o in found)
        raise InvalidInput(f"'{normalize_words(words)}' occurs {len(found)} times in slot '{slot}' ({where}); choose which one you mean")
    number = occurrence if occurrence is not None else 1
    if not 1 <= number <= len(found):
        raise InvalidInput(f"'{normalize_words(words)}' occurs {len(found)} time(s) in slot '{slot}'; there is no occurrence {number}")
    at = found[number - 1]
    text = _text(comment, "An annotation", minimum=3)
    ann = Annotation(
        draft_id=pk(draft),
        slot=slot,
        start_offset=at.start,
        end_offset=at.end,
        quote=draft.slots[slot][at.start : at.end],
        revision=draft.revision,
        anchored_revision=draft.revision,
        comment=text,
        created_by=pk(actor),
    )
    session.add(ann)
    session.flush()
    after = {"annotation_id": ann.id, "slot": slot, "start": at.start, "end": at.end, "quote": ann.quote, "comment": text, "revision": draft.revision}
    audit.append(session, actor=actor.username, action="annotation_created", entity="draft", entity_id=draft.id, after=after)
    return ann


def reply(session: Session, actor: User, annotation_id: int, *, text: str, expected_state: str | None = None) -> Annotation:
    """Add to an annotation's thread. The author's reply to an open annotation answers it."""
    draft, ann = _locked(session, annotation_id, actor, "reply", expected_state)
    if ann.state == A.RESOLVED:
        raise Conflict(f"{_last_step(session, ann)}; a reviewer can reopen it to continue the thread")
    body = _text(text, "A reply", minimum=1)
    new_state = A.ANSWERED if actor.role in (Role.MARKETER, Role.ADMIN) and ann.state == A.OPEN else ann.state
    return _record(session, actor, draft, ann, "reply", body, new_state)


def resolve(session: Session, actor: User, annotation_id: int, *, note: str = "", expected_state: str | None = None) -> Annotation:
    """Settle an annotation: the draft's author side, or the reviewer who raised it."""
    draft, ann = _locked(session, annotation_id, actor, "resolve", expected_state)
    if ann.state == A.RESOLVED:
        raise Conflict(f"{_last_step(session, ann)}; it is already resolved")
    if actor.role == Role.REVIEWER and ann.created_by != actor.id:
        raise PermissionDenied(
            f"{actor.username} did not raise annotation {ann.id}: the draft's author or the reviewer who raised it resolves it (you may reply to it)",
            **_attempt(actor, "resolve an annotation", draft),
        )
    return _record(session, actor, draft, ann, "resolve", _text(note, "A note", minimum=0), A.RESOLVED)


def reopen(session: Session, actor: User, annotation_id: int, *, comment: str, expected_state: str | None = None) -> Annotation:
    """A reviewer is not satisfied: the annotation is open again and blocks resubmission."""
    draft, ann = _locked(session, annotation_id, actor, "reopen", expected_state)
    if actor.role != Role.REVIEWER:
        raise PermissionDenied(f"{actor.username} is a {actor.role}; only reviewers reopen annotations", **_attempt(actor, "reopen an annotation", draft))
    if ann.state == A.OPEN:
        raise Conflict(f"{_last_step(session, ann)}; it is already open")
    return _record(session, actor, draft, ann, "reopen", _text(comment, "Reopening an annotation", minimum=3), A.OPEN)


def find_words(session: Session, actor: User, draft_id: int, *, slot: str, words: str) -> list[Occurrence]:
    """Where the words a reviewer typed occur in one slot (before annotating; nothing is written)."""
    require_role(actor, Role.REVIEWER)
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(f"draft {draft_id} not found")
    if slot not in draft.slots:
        raise InvalidInput(f"unknown slot '{slot}' (draft {draft.id} has {', '.join(draft.slots)})")
    return locate(draft.slots[slot], slot, words)


def submit_problem(session: Session, draft: Draft) -> str | None:
    """Why the draft cannot go (back) to review while annotations are open (None when none is)."""
    waiting = [a for a in _annotations(session, pk(draft)) if a.state == A.OPEN]
    if not waiting:
        return None
    shown = ", ".join(f"'{short(a.quote)}' in {a.slot}" + (" (outdated: the words were edited away)" if a.outdated else "") for a in waiting[:3])
    more = f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
    noun = "annotation" if len(waiting) == 1 else "annotations"
    return f"draft {draft.id} has {len(waiting)} open {noun}: {shown}{more}; reply to or resolve each before submitting it for review"


# ------------------------------------------------------------------ helpers


def short(quote: str, limit: int = 40) -> str:
    return quote if len(quote) <= limit else quote[: limit - 1] + "…"


def _annotations(session: Session, draft_id: int) -> list[Annotation]:
    return list(session.exec(select(Annotation).where(Annotation.draft_id == draft_id).order_by(col(Annotation.id))).all())


def _attempt(actor: User, attempted: str, draft: Draft) -> dict[str, Any]:
    return {"actor": actor.username, "attempted": attempted, "entity": "draft", "entity_id": draft.id}


def _text(value: str, what: str, *, minimum: int) -> str:
    value = (value or "").strip()
    if len(value) < minimum:
        raise InvalidInput(f"{what} needs a comment saying why" if minimum >= 3 else f"{what} cannot be empty")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} is {len(value)} characters long; keep it under {MAX_TEXT}")
    textsafety.check_plain_text(value, f"{what.lower()}'s text")
    return value


def _locked(session: Session, annotation_id: int, actor: User, attempted: str, expected_state: str | None) -> tuple[Draft, Annotation]:
    """The annotation and its draft, read again under the draft's lock, after the guards every
    thread action shares (role, relation to the draft, the draft still open, what the user saw)."""
    require_role(actor, *Role.ALL)
    found = session.get(Annotation, annotation_id)
    if found is None:
        raise NotFound(f"annotation {annotation_id} not found")
    draft = lock_draft(session, found.draft_id)
    ann = session.exec(select(Annotation).where(Annotation.id == annotation_id).execution_options(populate_existing=True)).one()
    if actor.role == Role.REVIEWER and actor.id in authors(session, draft):
        who = _attempt(actor, f"{attempted} an annotation", draft)
        raise PermissionDenied(f"{actor.username} wrote or edited draft {draft.id} and cannot review it", **who)
    if draft.status not in EDITABLE:
        raise InvalidTransition(f"{last_change(session, draft)}; its annotations are closed")
    if expected_state is not None and expected_state not in A.ALL:
        raise InvalidInput(f"unknown annotation state '{expected_state}' (one of: {', '.join(A.ALL)})")
    if expected_state is not None and ann.state != expected_state:
        raise Conflict(f"{_last_step(session, ann)} and is {ann.state} now (you saw it {expected_state}); reload to see it")
    return draft, ann


def _record(session: Session, actor: User, draft: Draft, ann: Annotation, kind: str, text: str, new_state: str) -> Annotation:
    before = {"annotation_id": ann.id, "state": ann.state}
    ann.state = new_state
    ann.updated_at = utcnow()
    if kind == "resolve":
        ann.resolved_by, ann.resolved_at = pk(actor), ann.updated_at
    elif new_state != A.RESOLVED:
        ann.resolved_by, ann.resolved_at = None, None
    session.add(ann)
    session.add(AnnotationReply(annotation_id=pk(ann), user_id=pk(actor), kind=kind, text=text, state_after=new_state, revision=draft.revision))
    action = {"reply": "annotation_replied", "resolve": "annotation_resolved", "reopen": "annotation_reopened"}[kind]
    after = {"annotation_id": ann.id, "state": new_state, "slot": ann.slot, "quote": ann.quote, "text": text, "revision": draft.revision}
    audit.append(session, actor=actor.username, action=action, entity="draft", entity_id=draft.id, before=before, after=after)
    return ann


def _last_step(session: Session, ann: Annotation) -> str:
    """'annotation 4 on draft 12 ('busiest city' in greeting) was resolved by maria a moment ago':
    what the loser of a race is told."""
    last = session.exec(select(AnnotationReply).where(AnnotationReply.annotation_id == ann.id).order_by(col(AnnotationReply.id).desc()).limit(1)).first()
    user_id, verb, ts = (last.user_id, VERBS[last.kind], last.created_at) if last else (ann.created_by, VERBS["created"], ann.created_at)
    who = session.get(User, user_id)
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    when = "a moment ago" if (datetime.now(UTC) - ts).total_seconds() < 120 else f"at {ts:%Y-%m-%d %H:%M} UTC"
    return f"annotation {ann.id} on draft {ann.draft_id} ('{short(ann.quote)}' in {ann.slot}) was {verb} by {who.username if who else '?'} {when}"
