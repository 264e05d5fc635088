"""The tables every part of the workflow shares (SQLModel). Never defined in a Streamlit script, so reruns are safe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def pk(row: Any) -> int:
    """A saved row's primary key as an int (SQLModel types it `int | None` until the row is
    flushed). Asking for the key of an unsaved row is a programming error, said plainly."""
    key = row.id
    if key is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: add and flush it first")
    return int(key)


def json_column(**kw: Any) -> Any:
    return Field(default_factory=kw.pop("factory", dict), sa_column=Column(JSON, nullable=False))


class Role:
    MARKETER = "marketer"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    ALL = (MARKETER, REVIEWER, ADMIN)


class Status:
    """Draft statuses. Only `review.transitions.transition` changes them."""

    CHECKED = "checked"
    IN_REVIEW = "in_review"
    NEEDS_CHANGES = "needs_changes"
    APPROVED = "approved"
    PUBLISHED = "published"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ALL = (CHECKED, IN_REVIEW, NEEDS_CHANGES, APPROVED, PUBLISHED, REJECTED, WITHDRAWN)


class JobStatus:
    """Generation job statuses. Only review.generation.jobs changes them."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    ACTIVE = (QUEUED, RUNNING)  # unfinished: starting the campaign's generation again resumes it
    ALL = (QUEUED, RUNNING, DONE, CANCELLED, FAILED)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    full_name: str
    role: str
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # Where notification emails go (review.notifications); None: in-app inbox only (m010).
    email: str | None = None
    # Company sign-in (review.sso, m015): the identity provider's issuer and subject this user is
    # linked to (both None for a local-only user), and the signing password an SSO user re-enters
    # at each signature (argon2, like password_hash; None until set). A user created by company
    # sign-in has an empty password_hash: it cannot log in with the local form.
    oidc_issuer: str | None = None
    oidc_subject: str | None = None
    signing_password_hash: str | None = None


class Brand(SQLModel, table=True):
    """A brand's identity, for foreign keys. Everything else (name, industry, who must approve,
    fields...) lives in its brand.yaml only: read it with `brands.policy_for(brand)`."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def name(self) -> str:
        """The display name brand.yaml gives now (cached by the file's mtime and size)."""
        from ..brands import policy_for

        return policy_for(self).name


class Template(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    name: str
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class TemplateVersion(SQLModel, table=True):
    """An immutable version of a template: drafts point at the version they were made from."""

    __table_args__ = (UniqueConstraint("template_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    template_id: int = Field(foreign_key="template.id", index=True)
    version: int
    source: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Audience(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    # The brand whose declared fields the audience was checked against (review/db.py
    # m005_audience_brand); None only for an audience imported before audiences had a brand.
    brand_id: int | None = Field(default=None, foreign_key="brand.id", index=True)
    fields: list[str] = json_column(factory=list)
    row_count: int = 0
    consent_count: int = 0
    source_sha256: str = ""
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Recipient(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("audience_id", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    audience_id: int = Field(foreign_key="audience.id", index=True)
    external_id: str
    data: dict[str, str] = json_column()
    consent: bool = False


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    template_version_id: int = Field(foreign_key="templateversion.id")
    audience_id: int = Field(foreign_key="audience.id")
    channel: str = "email"
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    # When its drafts' review is due (UTC); its drafts in review inherit it (m010).
    due_at: datetime | None = None


class Variant(SQLModel, table=True):
    """Recipients who share the values every slot may see; the model fills each variant once."""

    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    key: str
    label: str = ""
    inputs: dict[str, str] = json_column()
    personalized: bool = True
    recipient_count: int = 0
    sample_recipient_id: int = Field(foreign_key="recipient.id")


class CampaignRecipient(SQLModel, table=True):
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    recipient_id: int = Field(foreign_key="recipient.id", primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", index=True)


class Draft(SQLModel, table=True):
    """One per variant: the slot texts a reviewer signs."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    variant_id: int = Field(foreign_key="variant.id", unique=True)
    status: str = Field(default=Status.CHECKED, index=True)
    revision: int = 1
    slots: dict[str, str] = json_column()
    # per slot: {"source": model|fallback|edited|no_consent, "prompt_fingerprint": ..., "seed": ..., "candidates": n}
    slot_meta: dict[str, Any] = json_column()
    findings: list[dict[str, Any]] = json_column(factory=list)
    error_count: int = 0
    warning_count: int = 0
    fallback_count: int = 0
    content_hash: str = ""
    model_fingerprint: str = ""
    seed: int = 0
    settings: dict[str, Any] = json_column()
    prompt_fingerprint: str = ""
    author_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    # When the draft became approved (set by transitions.transition; kept while it is published,
    # cleared when it leaves approved/published): its approval expires brand.yaml's
    # approval_valid_days later (review.expiry). Added by m012.
    approved_at: datetime | None = Field(default=None, index=True)


class DraftRevision(SQLModel, table=True):
    """Every content a draft has had, for history and diffs."""

    __table_args__ = (UniqueConstraint("draft_id", "revision"),)
    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    revision: int
    slots: dict[str, str] = json_column()
    findings: list[dict[str, Any]] = json_column(factory=list)
    content_hash: str
    edited_by: int = Field(foreign_key="user.id")
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class Approval(SQLModel, table=True):
    """An electronic signature over a manifest. Voided (not deleted) when the draft changes."""

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    revision: int
    reviewer_id: int = Field(foreign_key="user.id")
    full_name: str
    meaning: str
    # The review step of brand.yaml's plan this signature satisfies (review.routing); "review"
    # for the one-step plan of `approvals_required` and for signatures given before steps.
    step: str = "review"
    signed_at: datetime = Field(default_factory=utcnow)
    manifest: dict[str, Any] = json_column()
    manifest_hash: str
    acknowledged: list[str] = json_column(factory=list)
    valid: bool = True
    voided_at: datetime | None = None
    void_reason: str = ""


class Comment(SQLModel, table=True):
    """A reviewer's decision comment or a note on a draft."""

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    kind: str  # request_changes | reject | withdraw | note
    text: str = Field(sa_column=Column(Text, nullable=False))
    revision: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained: each row's hash covers its content and the previous hash."""

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(index=True, unique=True)
    ts: datetime = Field(default_factory=utcnow)
    actor: str
    action: str = Field(index=True)
    entity: str
    entity_id: str = Field(index=True)
    before: dict[str, Any] = json_column()
    after: dict[str, Any] = json_column()
    prev_hash: str
    hash: str
    # HMAC of `hash` under the audit key (kept outside the database): recomputing the chain
    # after editing an event is only possible with the key.
    mac: str = ""


class AuditHead(SQLModel, table=True):
    """One row: the chain's tip, locked while appending so concurrent writers never fork it."""

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = ""
    mac: str = ""  # HMAC of (seq, hash): cutting events off the end and resetting the head needs the key


class Export(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    jsonl_path: str
    csv_path: str
    row_count: int
    sha256: str
    # Recipients whose own field values broke a rule: their messages were not written (listed
    # with the reason in held_path).
    held_back: int = 0
    held_path: str = ""


class GenerationJob(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    status: str = JobStatus.QUEUED  # one of JobStatus.ALL
    total: int = 0
    done: int = 0
    cancel_requested: bool = False
    error: str = ""
    settings: dict[str, Any] = json_column()
    created_by: int = Field(foreign_key="user.id")
    started_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    # Team mode: chunks run again after an error or a lost worker (review.generation.queue_jobs).
    chunks_redone: int = 0


class FillCache(SQLModel, table=True):
    """Slot fills keyed by (model, template version, slot, input values, settings)."""

    key: str = Field(primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str
    meta: dict[str, Any] = json_column()
    created_at: datetime = Field(default_factory=utcnow)
