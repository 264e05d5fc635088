"""How a draft's text changed: between consecutive revisions (the history tab's `slot_diff`), and
side by side, word by word, against the last revision that was approved and against the
revision the viewing reviewer last signed (`draft_diffs`). Read only, no Streamlit.

"Last approved" is read from the audit trail (the latest `draft_approved` event names its
revision), so a revision whose approval an edit later voided still counts: it is the text the
reviewers approved. "Last signed" is the viewer's latest signature, valid or voided.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from .auth import require_role
from .errors import NotFound
from .models import Approval, AuditEvent, Draft, DraftRevision, Role, User
from .transitions import get_draft

# Words, runs of whitespace and single punctuation marks: a change is marked word by word.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


def slot_diff(old: dict[str, str], new: dict[str, str]) -> str:
    """A text diff of two revisions' slots (ndiff per changed slot), for the history tab."""
    lines: list[str] = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, ""), new.get(name, "")
        if a == b:
            continue
        lines.append(f"@@ slot {name} @@")
        lines.extend(difflib.ndiff([a], [b]))
    return "\n".join(line.rstrip("\n") for line in lines)


@dataclass(frozen=True)
class Segment:
    text: str
    kind: str  # "same" | "removed" (old side only) | "added" (new side only)


def word_diff(old: str, new: str) -> tuple[list[Segment], list[Segment]]:
    """The old and the new text cut into runs that are the same, removed or added, word by word.
    Joining each side's texts gives back that side exactly."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    # A lone space kept between two changes would split one change into two: fold it in.
    merged: list[tuple[str, int, int, int, int]] = []
    for i, (op, i1, i2, j1, j2) in enumerate(ops):
        tag: str = op
        between = 0 < i < len(ops) - 1 and ops[i - 1][0] != "equal" and ops[i + 1][0] != "equal"
        if tag == "equal" and between and "".join(a[i1:i2]).isspace():
            tag = "replace"
        if merged and tag != "equal" and merged[-1][0] != "equal":
            merged[-1] = ("replace", merged[-1][1], i2, merged[-1][3], j2)
        else:
            merged.append((tag, i1, i2, j1, j2))
    left: list[Segment] = []
    right: list[Segment] = []
    for tag, i1, i2, j1, j2 in merged:
        old_part, new_part = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "equal":
            _add(left, old_part, "same")
            _add(right, new_part, "same")
        else:
            _add(left, old_part, "removed")
            _add(right, new_part, "added")
    return left, right


def _add(side: list[Segment], text: str, kind: str) -> None:
    if not text:
        return
    if side and side[-1].kind == kind:
        side[-1] = Segment(side[-1].text + text, kind)
    else:
        side.append(Segment(text, kind))


@dataclass(frozen=True)
class SlotChange:
    slot: str
    old: str
    new: str
    old_segments: list[Segment]
    new_segments: list[Segment]

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass(frozen=True)
class RevisionDiff:
    """The draft's current text against one earlier revision, slot by slot."""

    base_revision: int
    revision: int  # the current one
    signed_by: list[str]  # who signed the base revision (full names, in signing order)
    slots: list[SlotChange]

    @property
    def changed(self) -> bool:
        return any(s.changed for s in self.slots)


@dataclass(frozen=True)
class DraftDiffs:
    draft_id: int
    revision: int
    since_approved: RevisionDiff | None  # None: no revision of this draft was ever approved
    since_signed: RevisionDiff | None  # None: the viewer never signed it (or is not a reviewer)
    viewer_reviews: bool  # the viewer is a reviewer, so "since you last signed" applies


def last_approved_revision(session: Session, draft: Draft) -> int | None:
    """The revision the draft last became approved at, from the audit trail (None: never)."""
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "draft", AuditEvent.entity_id == str(draft.id), AuditEvent.action == "draft_approved")
        .order_by(col(AuditEvent.seq).desc())
    ).all()
    for ev in events:
        rev = (ev.after or {}).get("revision")
        if isinstance(rev, int):
            return rev
    return None


def last_signed_revision(session: Session, draft: Draft, user: User) -> int | None:
    """The revision this reviewer last signed (their signature may since have been voided)."""
    return session.exec(
        select(Approval.revision).where(Approval.draft_id == draft.id, Approval.reviewer_id == user.id).order_by(col(Approval.id).desc()).limit(1)
    ).first()


def revision_diff(session: Session, draft: Draft, base_revision: int) -> RevisionDiff:
    """The draft's current text against `base_revision`, word by word per slot."""
    base = session.exec(select(DraftRevision).where(DraftRevision.draft_id == draft.id, DraftRevision.revision == base_revision)).first()
    if base is None:
        raise NotFound(f"revision {base_revision} of draft {draft.id} is missing from its history")
    signers = session.exec(select(Approval.full_name).where(Approval.draft_id == draft.id, Approval.revision == base_revision).order_by(col(Approval.id))).all()
    names = list(dict.fromkeys(draft.slots)) + [n for n in base.slots if n not in draft.slots]
    slots = []
    for name in names:
        old, new = base.slots.get(name, ""), draft.slots.get(name, "")
        left, right = word_diff(old, new)
        slots.append(SlotChange(name, old, new, left, right))
    return RevisionDiff(base_revision, draft.revision, list(dict.fromkeys(signers)), slots)


def draft_diffs(session: Session, actor: User, draft_id: int) -> DraftDiffs:
    """What changed since the draft was last approved and, for a reviewer, since they last signed it."""
    require_role(actor, *Role.ALL)
    draft = get_draft(session, draft_id)
    approved = last_approved_revision(session, draft)
    reviews = actor.role == Role.REVIEWER
    signed = last_signed_revision(session, draft, actor) if reviews else None
    return DraftDiffs(
        draft_id=draft_id,
        revision=draft.revision,
        since_approved=revision_diff(session, draft, approved) if approved is not None else None,
        since_signed=revision_diff(session, draft, signed) if signed is not None else None,
        viewer_reviews=reviews,
    )
