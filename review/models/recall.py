"""Recalls: what withdrawing published content tells the systems that already took the export.

A row per recall (one withdrawn published draft, or a whole withdrawn campaign). `payload` is the
recall exactly as its JSON file says it (campaign, exports with their sha256, drafts and variant
keys, the affected recipients' external ids, reason, who, when); the files in the export folder
are written from it after the transaction commits (review.recalls), so an API or webhook can
pick a recall up from this table or from the `campaign_recalled` / `draft_recalled` audit event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from .core import json_column, utcnow


class RecallScope:
    DRAFT = "draft"  # one published draft was withdrawn
    CAMPAIGN = "campaign"  # a whole published campaign was withdrawn
    ALL = (DRAFT, CAMPAIGN)


class Recall(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    scope: str  # RecallScope.DRAFT | RecallScope.CAMPAIGN
    draft_ids: list[int] = json_column(factory=list)
    export_ids: list[int] = json_column(factory=list)
    recipient_count: int = 0
    reason: str
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    json_path: str = ""
    csv_path: str = ""
    # SHA-256 of the JSON file's bytes (also in the audit event): what a downstream system checks.
    sha256: str = ""
    payload: dict[str, Any] = json_column()
