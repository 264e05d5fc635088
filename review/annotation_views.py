"""What the draft page's annotation panel shows: every annotation of a draft, anchored in the slot
text as it reads now, its thread, and what this user may do to it. Read only, no Streamlit.

An annotation whose offsets were last checked against an older revision (text changed by a path
that did not re-anchor it) is anchored here, in memory, the way `annotations.reanchor` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from .annotations import allowed, anchor, can_annotate
from .auth import require_role
from .models import Annotation, AnnotationReply, AnnotationState, Role, User, pk
from .signing import authors
from .transitions import get_draft


@dataclass(frozen=True)
class ThreadEntry:
    by: str
    kind: str  # reply | resolve | reopen
    text: str
    at: datetime
    revision: int


@dataclass(frozen=True)
class AnnotationItem:
    id: int
    number: int  # 1-based, in the order they were made: the marker in the slot text
    slot: str
    start: int  # offsets into the slot's current text
    end: int
    quote: str
    outdated: bool  # the quoted words no longer occur in the slot text
    state: str
    comment: str
    by: str
    at: datetime
    revision: int  # made on
    resolved_by: str
    thread: list[ThreadEntry]
    actions: tuple[str, ...]  # what the viewer may do: reply, resolve, reopen


@dataclass(frozen=True)
class AnnotationsView:
    draft_id: int
    revision: int
    status: str
    slots: dict[str, str]
    items: list[AnnotationItem]
    can_annotate: bool

    @property
    def open_count(self) -> int:
        return sum(1 for a in self.items if a.state == AnnotationState.OPEN)

    def for_slot(self, slot: str) -> list[AnnotationItem]:
        return [a for a in self.items if a.slot == slot]


def draft_annotations(session: Session, actor: User, draft_id: int) -> AnnotationsView:
    """Every annotation of the draft with its thread, anchored in the current text."""
    require_role(actor, *Role.ALL)
    draft = get_draft(session, draft_id)
    rows = list(session.exec(select(Annotation).where(Annotation.draft_id == draft.id).order_by(col(Annotation.id))).all())
    replies: dict[int, list[AnnotationReply]] = {}
    if rows:
        q = select(AnnotationReply).where(col(AnnotationReply.annotation_id).in_([pk(a) for a in rows])).order_by(col(AnnotationReply.id))
        for r in session.exec(q).all():
            replies.setdefault(r.annotation_id, []).append(r)
    ids = {a.created_by for a in rows} | {a.resolved_by for a in rows if a.resolved_by} | {r.user_id for rs in replies.values() for r in rs}
    names = {pk(u): u.username for u in session.exec(select(User).where(col(User.id).in_(ids))).all()} if ids else {}
    wrote = authors(session, draft)
    items = []
    for n, a in enumerate(rows, start=1):
        start, end, outdated = (a.start_offset, a.end_offset, a.outdated)
        if a.anchored_revision != draft.revision:
            start, end, outdated = anchor(a, draft.slots.get(a.slot, ""))
        items.append(
            AnnotationItem(
                id=pk(a),
                number=n,
                slot=a.slot,
                start=start,
                end=end,
                quote=a.quote,
                outdated=outdated,
                state=a.state,
                comment=a.comment,
                by=names.get(a.created_by, "?"),
                at=a.created_at,
                revision=a.revision,
                resolved_by=names.get(a.resolved_by, "?") if a.resolved_by else "",
                thread=[ThreadEntry(names.get(r.user_id, "?"), r.kind, r.text, r.created_at, r.revision) for r in replies.get(pk(a), [])],
                actions=allowed(a, draft, actor, wrote),
            )
        )
    return AnnotationsView(pk(draft), draft.revision, draft.status, dict(draft.slots), items, can_annotate(draft, actor, wrote))
