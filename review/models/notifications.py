"""In-app notifications, and the delivery of each by email (review.notifications)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from .core import utcnow


class NotificationKind:
    ASSIGNED = "assigned"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ALL = (ASSIGNED, CHANGES_REQUESTED, APPROVED, REJECTED, DUE_SOON, OVERDUE)


class Delivery:
    """Email delivery of one notification."""

    OFF = "off"  # email is not configured (COUNTERSIGN_SMTP_HOST unset)
    NO_ADDRESS = "no_address"  # the user has no email address
    PENDING = "pending"  # to be sent once the transaction that made it commits
    SENDING = "sending"  # claimed by a sender (review.notifications.deliver)
    SENT = "sent"
    FAILED = "failed"  # `email_error` says why; the in-app notification stands
    ALL = (OFF, NO_ADDRESS, PENDING, SENDING, SENT, FAILED)


class Notification(SQLModel, table=True):
    __table_args__ = (Index("ix_notification_inbox", "user_id", "read_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str  # NotificationKind
    title: str
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    link: str = ""  # app path, e.g. /draft?draft=12 (emails prefix COUNTERSIGN_APP_URL)
    draft_id: int | None = Field(default=None, foreign_key="draft.id", index=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    actor: str = "system"  # who caused it
    # Reminders carry "<kind>:<assignment>:<UTC day>": one per assignment per kind per day.
    dedupe_key: str | None = Field(default=None, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None
    email_status: str = Delivery.OFF
    email_error: str = ""
    email_attempts: int = 0
    emailed_at: datetime | None = None
