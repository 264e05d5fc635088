"""Who is asked to sign what: assignments of a draft's review steps to reviewers, and absences.

Only review.assignments writes these rows (under the draft's lock, with an audit event each).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from .core import utcnow


class AssignmentState:
    """An assignment is open until its step is satisfied, the reviewer signs, it moves to someone
    else, or the draft leaves review."""

    OPEN = "open"
    DONE = "done"  # the reviewer signed, or the step was satisfied by others
    MOVED = "moved"  # reassigned to another reviewer (absence, or by hand)
    CLOSED = "closed"  # the draft left review before the step was satisfied
    ALL = (OPEN, DONE, MOVED, CLOSED)


class Assignment(SQLModel, table=True):
    """One reviewer asked to sign one step of one draft."""

    __table_args__ = (Index("ix_assignment_open_reviewer", "state", "reviewer_id"), Index("ix_assignment_draft_state", "draft_id", "state"))
    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    step: str  # the review step's name (review.routing.ReviewStep.name)
    step_index: int = 0
    reviewer_id: int = Field(foreign_key="user.id", index=True)
    method: str = "auto"  # auto (round-robin by load) | manual | absence (moved from an absent reviewer)
    assigned_by: str = "system"  # the username who assigned it, or "system"
    state: str = AssignmentState.OPEN
    revision: int = 1  # the draft's revision when assigned
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    close_reason: str = ""


class Absence(SQLModel, table=True):
    """A reviewer marked away by an admin: no new assignments, open ones moved to others."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    since: datetime = Field(default_factory=utcnow)
    until: datetime | None = None  # expected return, for information (an admin marks them back)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    set_by: str
