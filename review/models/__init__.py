"""Database tables (SQLModel), one module per area; import them from here.

`core` holds the tables every part of the workflow shares. A new area (review routing,
notifications, annotations, ...) adds its own module beside it and is imported below, so
`SQLModel.metadata` knows every table as soon as `review.models` is imported. Each new table
is created by its own migration in review/db.py (ARCHITECTURE.md, "Where things go").
"""

from .annotations import Annotation, AnnotationReply, AnnotationState
from .api import ApiScope, ApiToken, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .assignments import Absence, Assignment, AssignmentState
from .core import (
    Approval,
    Audience,
    AuditEvent,
    AuditHead,
    Brand,
    Campaign,
    CampaignRecipient,
    Comment,
    Draft,
    DraftRevision,
    Export,
    FillCache,
    GenerationJob,
    JobStatus,
    Recipient,
    Role,
    Status,
    Template,
    TemplateVersion,
    User,
    Variant,
    json_column,
    pk,
    utcnow,
)
from .notifications import Delivery, Notification, NotificationKind
from .recall import Recall, RecallScope
from .routing import UserReviewRole

__all__ = [
    "Absence",
    "Annotation",
    "AnnotationReply",
    "AnnotationState",
    "ApiScope",
    "ApiToken",
    "Assignment",
    "AssignmentState",
    "Delivery",
    "DeliveryStatus",
    "Notification",
    "NotificationKind",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "Approval",
    "Audience",
    "AuditEvent",
    "AuditHead",
    "Brand",
    "Campaign",
    "CampaignRecipient",
    "Comment",
    "Draft",
    "DraftRevision",
    "Export",
    "FillCache",
    "GenerationJob",
    "JobStatus",
    "Recall",
    "RecallScope",
    "Recipient",
    "Role",
    "Status",
    "Template",
    "TemplateVersion",
    "User",
    "UserReviewRole",
    "Variant",
    "json_column",
    "pk",
    "utcnow",
]
