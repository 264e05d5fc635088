"""Review routing tables: which review roles (medical, legal, ...) each reviewer holds.

Who must sign what is brand.yaml's `review:` plan (review.brands / review.review_steps); which
reviewer may sign which step is this table, kept by admins through review.routing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from .core import utcnow


class UserReviewRole(SQLModel, table=True):
    """One review role held by one user (a user with role `reviewer`); assigned by an admin."""

    __table_args__ = (UniqueConstraint("user_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role: str = Field(index=True)
    granted_by: int = Field(foreign_key="user.id")
    granted_at: datetime = Field(default_factory=utcnow)
