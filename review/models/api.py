"""Tables of the API for sending systems: scoped API tokens, webhook endpoints, their queued
deliveries and every delivery attempt (review/db.py m013_api_tokens_webhooks).

Neither secret is stored: a token keeps only the SHA-256 of its random secret, an endpoint only
the random salt its signing secret is derived from with a key kept outside the database
(review.webhooks), so someone who can read the database can neither call the API nor forge a
webhook."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from .core import json_column, utcnow


class ApiScope:
    """What a token may read. `campaigns:read`: published campaigns and their recalls;
    `messages:read`: the messages themselves (the rendered text of every recipient)."""

    CAMPAIGNS_READ = "campaigns:read"
    MESSAGES_READ = "messages:read"
    ALL = (CAMPAIGNS_READ, MESSAGES_READ)


class WebhookEvent:
    PUBLISHED = "campaign.published"
    WITHDRAWN = "campaign.withdrawn"
    ALL = (PUBLISHED, WITHDRAWN)


class DeliveryStatus:
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed; no more are made
    ALL = (PENDING, DELIVERED, FAILED)


class ApiToken(SQLModel, table=True):
    """A bearer token for the read-only API: `cs_<key_id>_<secret>`. `key_id` is public (it
    names the token in lists and logs); only sha256(secret) is kept."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    key_id: str = Field(index=True, unique=True)
    secret_sha256: str
    scopes: list[str] = json_column(factory=list)
    brand_id: int | None = Field(default=None, foreign_key="brand.id", index=True)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: int | None = Field(default=None, foreign_key="user.id")
    last_used_at: datetime | None = None
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class WebhookEndpoint(SQLModel, table=True):
    """Where publish and withdraw events are POSTed. The signing secret is derived from
    `secret_salt` and the server's key (review.webhooks.endpoint_secret), never stored."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    url: str = Field(sa_column=Column(Text, nullable=False))
    events: list[str] = json_column(factory=list)
    brand_id: int | None = Field(default=None, foreign_key="brand.id", index=True)
    secret_salt: str
    active: bool = True
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint. Queued in the transaction that published or withdrew, so
    a rolled-back action sends nothing; the body is fixed then, so every retry sends the same
    bytes (under a fresh signature)."""

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhookendpoint.id", index=True)
    event_id: str = Field(index=True, unique=True)
    event: str
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    # A sender claims a delivery by moving this forward (compare-and-set), so two senders
    # (the after-commit thread, a cron worker) never send one delivery at the same moment.
    claimed_until: datetime | None = None
    last_status_code: int | None = None
    last_error: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class WebhookAttempt(SQLModel, table=True):
    """Every try at a delivery: when, what the receiver answered (or why it could not)."""

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhookdelivery.id", index=True)
    attempted_at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    error: str = ""
    duration_ms: int = 0
    response_excerpt: str = Field(default="", sa_column=Column(Text, nullable=False))
