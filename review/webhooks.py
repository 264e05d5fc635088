"""Signed webhooks for the systems that send: an admin registers endpoints; publishing a campaign
and withdrawing a published draft queue one delivery per subscribed endpoint in the same
transaction (review/webhook_delivery.py sends them after it commits, with retries).

**Signature** (Stripe's scheme, README "API for sending systems"): every POST carries

    Countersign-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

where `secret` is the endpoint's whole `whsec_…` string as UTF-8 bytes. A receiver recomputes
the HMAC over the raw body it received, compares it in constant time, and refuses a `t` more
than a few minutes from its clock (replays). `Countersign-Event-Id` is the same on every retry
of one event: receivers use it to ignore duplicates.

**Secrets are never stored.** An endpoint keeps a random salt; its secret is
HMAC-SHA256(server key, salt), the server key being the audit key kept outside the database
(COUNTERSIGN_AUDIT_KEY or its key file). Someone who can read the database cannot forge a
webhook; the secret is shown once when the endpoint is registered (or its secret rotated).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from . import audit
from .auth import require_role
from .brands import brand_by_slug
from .db import after_outcome
from .errors import Conflict, InvalidInput, checked_choices
from .locks import lock_one
from .models import (
    Brand,
    Campaign,
    CampaignRecipient,
    DeliveryStatus,
    Draft,
    Export,
    Role,
    User,
    Variant,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    pk,
    utcnow,
)

SIGNATURE_HEADER = "Countersign-Signature"
MAX_URL = 2000
MAX_NAME = 80


# ------------------------------------------------------------------ secrets and signatures


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret, derived from its salt and the key outside the database."""
    key = audit.audit_key()
    assert key is not None  # audit_key creates the key file when neither it nor the variable exists
    raw = hmac.new(key, b"countersign-webhook-secret:" + endpoint.secret_salt.encode("ascii"), hashlib.sha256).digest()
    return "whsec_" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `Countersign-Signature` header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None) -> bool:
    """What a receiver does (Python receivers may copy it): True when some `v1` in the header is
    the HMAC of this body at its `t`, and `t` is within `tolerance_s` of now."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return any(k.strip() == "v1" and hmac.compare_digest(v.strip(), expected) for k, v in parts)


# ------------------------------------------------------------------ endpoints (admin)


@dataclass(frozen=True)
class EndpointInfo:
    id: int
    name: str
    url: str
    events: tuple[str, ...]
    brand: str | None
    active: bool
    created_at: datetime
    pending: int
    delivered: int
    failed: int


@dataclass(frozen=True)
class NewEndpoint:
    info: EndpointInfo
    secret: str  # shown once


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """https, or http to this machine only (tests, a local relay); no credentials or fragment."""
    url = url.strip()
    if not url or len(url) > MAX_URL or not url.isprintable() or any(ch.isspace() for ch in url):
        raise InvalidInput(f"a webhook URL is one line of at most {MAX_URL} characters without spaces")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number in range raises here
    except ValueError as e:
        raise InvalidInput(f"webhook URL '{url[:80]}' is not a valid URL ({e})") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInput(f"webhook URL '{url[:80]}' must start with https:// and name a host")
    if parts.scheme == "http" and not _loopback(host):
        raise InvalidInput(f"webhook URL '{url[:80]}' must use https (plain http is allowed only to localhost)")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL may not hold a user name or password: the signature authenticates each call")
    if parts.fragment:
        raise InvalidInput("a webhook URL may not have a #fragment")
    return url


def _clean_events(events: list[str] | tuple[str, ...]) -> list[str]:
    return checked_choices(events, WebhookEvent.ALL, noun="event", none_chosen="choose at least one event")


def _endpoint_info(session: Session, e: WebhookEndpoint) -> EndpointInfo:
    counts = {s: 0 for s in DeliveryStatus.ALL}
    for status in session.exec(select(WebhookDelivery.status).where(WebhookDelivery.endpoint_id == e.id)).all():
        counts[status] = counts.get(status, 0) + 1
    brand = session.get(Brand, e.brand_id) if e.brand_id is not None else None
    created = e.created_at if e.created_at.tzinfo else e.created_at.replace(tzinfo=UTC)
    return EndpointInfo(
        pk(e), e.name, e.url, tuple(e.events), brand.slug if brand else None, e.active, created, counts["pending"], counts["delivered"], counts["failed"]
    )


def register_endpoint(
    session: Session, actor: User, *, name: str, url: str, events: list[str] | tuple[str, ...] = WebhookEvent.ALL, brand_slug: str | None = None
) -> NewEndpoint:
    """An admin registers a receiver; the result holds its signing secret, shown once."""
    require_role(actor, Role.ADMIN)
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidInput(f"a webhook endpoint needs a name of 1 to {MAX_NAME} printable characters")
    clean_url, clean_events = check_url(url), _clean_events(events)
    brand = brand_by_slug(session, brand_slug.strip()) if brand_slug and brand_slug.strip() else None
    row = WebhookEndpoint(
        name=name, url=clean_url, events=clean_events, brand_id=brand.id if brand else None, secret_salt=secrets.token_hex(16), created_by=pk(actor)
    )
    session.add(row)
    session.flush()
    after = {"name": name, "url": clean_url, "events": clean_events, "brand": brand.slug if brand else None}
    audit.append(session, actor=actor.username, action="webhook_registered", entity="webhook", entity_id=row.id, after=after)
    return NewEndpoint(_endpoint_info(session, row), endpoint_secret(row))


def disable_endpoint(session: Session, actor: User, endpoint_id: int) -> EndpointInfo:
    """Stop sending to an endpoint; its pending deliveries fail with the reason."""
    require_role(actor, Role.ADMIN)
    row = lock_one(session, WebhookEndpoint, endpoint_id, "webhook endpoint")
    if not row.active:
        raise Conflict(f"webhook endpoint '{row.name}' is already disabled")
    row.active, row.disabled_at = False, utcnow()
    session.add(row)
    pending = session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == DeliveryStatus.PENDING)).all()
    for d in pending:
        d.status, d.last_error = DeliveryStatus.FAILED, f"endpoint disabled by {actor.username}"
        session.add(d)
    audit.append(
        session, actor=actor.username, action="webhook_disabled", entity="webhook", entity_id=row.id, after={"name": row.name, "dropped": len(pending)}
    )
    return _endpoint_info(session, row)


def rotate_secret(session: Session, actor: User, endpoint_id: int) -> NewEndpoint:
    """A new signing secret (shown once); the old one stops working at once."""
    require_role(actor, Role.ADMIN)
    row = lock_one(session, WebhookEndpoint, endpoint_id, "webhook endpoint")
    row.secret_salt = secrets.token_hex(16)
    session.add(row)
    audit.append(session, actor=actor.username, action="webhook_secret_rotated", entity="webhook", entity_id=row.id, after={"name": row.name})
    return NewEndpoint(_endpoint_info(session, row), endpoint_secret(row))


def list_endpoints(session: Session, actor: User) -> list[EndpointInfo]:
    require_role(actor, Role.ADMIN)
    return [_endpoint_info(session, e) for e in session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))).all()]


# ------------------------------------------------------------------ events (hooks in publish / withdraw)


def _campaign_part(session: Session, camp: Campaign) -> dict[str, Any]:
    brand = session.get(Brand, camp.brand_id)
    return {"id": camp.id, "name": camp.name, "brand": brand.slug if brand else None, "channel": camp.channel}


def _enqueue(session: Session, event: str, camp: Campaign, data: dict[str, Any]) -> list[WebhookDelivery]:
    """One delivery per active endpoint subscribed to `event` (and to the campaign's brand)."""
    endpoints = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.active == True).order_by(col(WebhookEndpoint.id))).all()  # noqa: E712
    out = []
    for e in endpoints:
        if event not in e.events or (e.brand_id is not None and e.brand_id != camp.brand_id):
            continue
        event_id = "evt_" + secrets.token_hex(12)
        payload = {"id": event_id, "type": event, "created_at": utcnow().isoformat(), "data": data}
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        row = WebhookDelivery(endpoint_id=pk(e), event_id=event_id, event=event, campaign_id=camp.id, body=body)
        session.add(row)
        out.append(row)
    if out:
        session.flush()
        from .webhook_delivery import send_after_commit

        ids = [pk(d) for d in out]
        engine = session.get_bind()
        after_outcome(session, committed=lambda: send_after_commit(engine, ids))  # type: ignore[arg-type]
    return out


def campaign_published(session: Session, camp: Campaign, exp: Export) -> list[WebhookDelivery]:
    """Hook in export.publish, inside its transaction."""
    data = {
        "campaign": _campaign_part(session, camp),
        "export": {"id": exp.id, "messages": exp.row_count, "held_back": exp.held_back, "jsonl_sha256": exp.sha256},
        "links": {"campaign": f"/v1/campaigns/{camp.id}", "messages": f"/v1/campaigns/{camp.id}/messages"},
    }
    return _enqueue(session, WebhookEvent.PUBLISHED, camp, data)


def draft_withdrawn(session: Session, draft: Draft, reason: str) -> list[WebhookDelivery]:
    """Hook in workflow.withdraw, inside its transaction: a recall of messages already published.
    A draft withdrawn before its campaign was published sent nothing, so nobody is told."""
    if session.exec(select(Export.id).where(Export.campaign_id == draft.campaign_id)).first() is None:
        return []
    camp = session.get(Campaign, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    assert camp is not None and variant is not None
    recipients = len(session.exec(select(CampaignRecipient.recipient_id).where(CampaignRecipient.variant_id == variant.id)).all())
    data = {
        "campaign": _campaign_part(session, camp),
        "withdrawn": {"draft_id": draft.id, "variant": variant.key, "recipients": recipients, "reason": reason},
        "links": {"recalls": f"/v1/campaigns/{camp.id}/recalls", "messages": f"/v1/campaigns/{camp.id}/messages?status=withdrawn"},
    }
    return _enqueue(session, WebhookEvent.WITHDRAWN, camp, data)
