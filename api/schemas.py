"""Response models: what the OpenAPI description promises, field by field."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable name: unauthorized, forbidden, not_found, invalid_request, conflict, internal_error, ...")
    message: str = Field(description="One sentence saying what was wrong and where.")
    details: list[dict[str, str]] | None = Field(default=None, description="For invalid_request: each parameter and what is wrong with it.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class CampaignOut(BaseModel):
    id: int
    name: str
    brand: str = Field(description="The brand's slug (its folder under brand_guidelines/).")
    channel: Literal["email", "sms", "push", "letter"]
    status: Literal["published", "partially_withdrawn", "withdrawn"] = Field(
        description="partially_withdrawn: some audience groups were recalled after publishing (see /recalls); their messages must not be sent."
    )
    published_at: datetime
    export_id: int
    messages: int = Field(description="Messages in the export (one per recipient not held back).")
    held_back: int = Field(description="Recipients whose own field values broke a rule: no message exists for them.")
    variants: int = Field(description="Audience groups (drafts) in the campaign.")
    withdrawn_variants: int
    jsonl_sha256: str = Field(description="SHA-256 of the export's JSONL file, as recorded in the audit trail.")


class CampaignList(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ApprovalOut(BaseModel):
    reviewer: str = Field(description="The signer's full name, as printed on the signature.")
    meaning: str
    signed_at: str = Field(description="UTC, ISO 8601.")
    manifest_hash: str


class MessageOut(BaseModel):
    recipient_id: str
    channel: Literal["email", "sms", "push", "letter"]
    subject: str
    body: str
    variant: str = Field(description="The audience group's key; recalls name the same key.")
    content_hash: str
    approvals: list[ApprovalOut]
    status: Literal["published", "withdrawn"] = Field(description="withdrawn: recalled after publishing; do not send.")


class MessageList(BaseModel):
    campaign_id: int
    export_id: int
    jsonl_sha256: str
    items: list[MessageOut]
    next_cursor: str | None = Field(description="Pass as `cursor` (with the same `status`) for the next page; null on the last page.")


class RecallOut(BaseModel):
    draft_id: int
    variant: str
    recipients: int
    withdrawn_at: datetime
    reason: str


class RecallList(BaseModel):
    campaign_id: int
    items: list[RecallOut]


class Health(BaseModel):
    status: Literal["ok"]
