"""Span annotations: a reviewer points at words in one slot of a draft and comments on them.

An annotation keeps the slot, the character offsets into that slot's text, the quoted words and
the revision it was made on. When the slot text changes, review.annotations moves the offsets to
where the same words now stand, or marks the annotation outdated (it keeps the old quote). Its
thread (replies, resolutions, reopenings) is a list of AnnotationReply rows, oldest first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from .core import utcnow


class AnnotationState:
    """Where an annotation stands. Only review.annotations changes it."""

    OPEN = "open"  # raised by a reviewer (or reopened): the author must answer or resolve it
    ANSWERED = "answered"  # the author replied; the reviewer may resolve or reopen it
    RESOLVED = "resolved"  # settled; a reviewer may reopen it
    ALL = (OPEN, ANSWERED, RESOLVED)


class Annotation(SQLModel, table=True):
    """A reviewer's comment on a span of one slot's text."""

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    slot: str
    # Character offsets into the slot's text as it reads now (moved when an edit keeps the words).
    start_offset: int
    end_offset: int
    quote: str = Field(sa_column=Column(Text, nullable=False))  # the words the reviewer pointed at
    revision: int  # the revision the annotation was made on
    anchored_revision: int  # the revision the offsets (or the outdated mark) were last checked against
    outdated: bool = False  # the quoted words no longer occur in the slot's text
    state: str = Field(default=AnnotationState.OPEN, index=True)
    comment: str = Field(sa_column=Column(Text, nullable=False))
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    resolved_by: int | None = Field(default=None, foreign_key="user.id")
    resolved_at: datetime | None = None


class AnnotationReply(SQLModel, table=True):
    """One entry of an annotation's thread: a reply, or the note that went with resolving or
    reopening it (`kind`: reply | resolve | reopen)."""

    id: int | None = Field(default=None, primary_key=True)
    annotation_id: int = Field(foreign_key="annotation.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    kind: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    state_after: str  # the annotation's state once this entry was made
    revision: int  # the draft's revision when it was made
    created_at: datetime = Field(default_factory=utcnow)
