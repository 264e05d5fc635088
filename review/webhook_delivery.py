"""Sending queued webhooks: after the publishing transaction commits (a background thread makes
the first attempt at once) and from `python -m review deliver-webhooks` (cron or `--loop`),
which retries what failed with exponential backoff until `COUNTERSIGN_WEBHOOK_MAX_ATTEMPTS`.

A sender first *claims* a delivery with one compare-and-set UPDATE (due, pending, not claimed by
someone else in the last minutes), so the thread and any number of workers never send the same
delivery at the same moment. The HTTP call runs outside any transaction; its outcome is written
in a transaction of its own, as one `WebhookAttempt` row plus the delivery's new state.
Delivery is at least once: a receiver deduplicates on `Countersign-Event-Id`.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .config import settings
from .errors import Conflict, NotFound
from .models import DeliveryStatus, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint, pk, utcnow
from .webhooks import SIGNATURE_HEADER, endpoint_secret, sign

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=5)  # longer than any send (timeout is capped below it)
BACKOFF_BASE = timedelta(seconds=60)
BACKOFF_CAP = timedelta(hours=6)
EXCERPT = 500
USER_AGENT = "Countersign-Webhooks/1"


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 1, 2, 4, 8 ... minutes, at most 6 h."""
    return min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_CAP)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a place to send the signed body again."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Sent:
    status_code: int | None
    error: str
    excerpt: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Sent:
    """One POST; any failure (refused connection, timeout, TLS, non-2xx) becomes a `Sent`."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    start = time.monotonic()
    code: int | None = None
    error, excerpt = "", ""
    try:
        with _opener.open(request, timeout=timeout) as resp:
            code = resp.status
            excerpt = resp.read(EXCERPT).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        code, error = e.code, f"HTTP {e.code} {e.reason}"
        try:
            excerpt = e.read(EXCERPT).decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - the body of an error answer is a courtesy
            excerpt = ""
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        error = f"{type(reason).__name__}: {reason}"[:EXCERPT]
    if code is not None and not 200 <= code < 300 and not error:
        error = f"HTTP {code}"
    return Sent(code, error, excerpt, int((time.monotonic() - start) * 1000))


def _claim(engine: Engine, delivery_id: int, now: datetime) -> bool:
    with Session(engine) as s:
        result = s.exec(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == delivery_id,
                col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                col(WebhookDelivery.next_attempt_at) <= now,
                or_(col(WebhookDelivery.claimed_until).is_(None), col(WebhookDelivery.claimed_until) < now),
            )
            .values(claimed_until=now + CLAIM_FOR)
        )
        s.commit()
        return bool(result.rowcount == 1)


def deliver(engine: Engine, delivery_id: int, *, now: datetime | None = None) -> Sent | None:
    """Try one delivery if it is due and nobody else holds it; record the attempt. None: not tried."""
    now = now or utcnow()
    if not _claim(engine, delivery_id, now):
        return None
    with Session(engine, expire_on_commit=False) as s:
        d = s.get(WebhookDelivery, delivery_id)
        endpoint = s.get(WebhookEndpoint, d.endpoint_id) if d else None
        assert d is not None and endpoint is not None
        secret = endpoint_secret(endpoint) if endpoint.active else ""
    if not endpoint.active:
        sent = Sent(None, "endpoint disabled", "", 0)
    else:
        body = d.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Countersign-Event": d.event,
            "Countersign-Event-Id": d.event_id,
            "Countersign-Delivery-Attempt": str(d.attempts + 1),
            SIGNATURE_HEADER: sign(secret, body, int(time.time())),
        }
        sent = post(endpoint.url, body, headers, min(settings().webhook_timeout_seconds, int(CLAIM_FOR.total_seconds()) - 30))
    _record(engine, delivery_id, sent, now, give_up=not endpoint.active)
    return sent


def _record(engine: Engine, delivery_id: int, sent: Sent, now: datetime, *, give_up: bool) -> None:
    with Session(engine) as s:
        d = s.get(WebhookDelivery, delivery_id)
        assert d is not None
        s.add(
            WebhookAttempt(delivery_id=delivery_id, status_code=sent.status_code, error=sent.error, duration_ms=sent.duration_ms, response_excerpt=sent.excerpt)
        )
        d.attempts += 1
        d.last_status_code, d.last_error, d.claimed_until = sent.status_code, sent.error, None
        if sent.ok:
            d.status, d.delivered_at = DeliveryStatus.DELIVERED, utcnow()
        elif give_up or d.attempts >= settings().webhook_max_attempts:
            d.status = DeliveryStatus.FAILED
            log.warning("webhook delivery %s (%s) failed for good after %s attempt(s): %s", d.id, d.event_id, d.attempts, sent.error)
        else:
            d.next_attempt_at = now + backoff(d.attempts)
        s.add(d)
        s.commit()


@dataclass
class DeliveryReport:
    tried: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.tried} delivery attempt(s): {self.delivered} delivered, {self.retrying} to retry, {self.failed} given up"


def deliver_due(engine: Engine, *, now: datetime | None = None, limit: int = 200) -> DeliveryReport:
    """Try every pending delivery whose time has come (oldest first)."""
    now = now or utcnow()
    with Session(engine) as s:
        q = select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.PENDING, col(WebhookDelivery.next_attempt_at) <= now)
        ids = [i for i in s.exec(q.order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id)).limit(limit)).all() if i is not None]
    report = DeliveryReport()
    for delivery_id in ids:
        sent = deliver(engine, delivery_id, now=now)
        if sent is None:
            continue  # someone else has it
        report.tried += 1
        with Session(engine) as s:
            status = s.exec(select(WebhookDelivery.status).where(WebhookDelivery.id == delivery_id)).one()
        if sent.ok:
            report.delivered += 1
        elif status == DeliveryStatus.FAILED:
            report.failed += 1
            report.errors.append(f"delivery {delivery_id}: {sent.error}")
        else:
            report.retrying += 1
            report.errors.append(f"delivery {delivery_id}: {sent.error} (will retry)")
    return report


def send_after_commit(engine: Engine, delivery_ids: list[int]) -> threading.Thread | None:
    """The first attempt right after the publishing transaction committed, off the caller's
    thread (the person who published does not wait for a receiver). Whatever fails here is
    retried by `deliver-webhooks`."""
    if not settings().webhook_send_after_commit or not delivery_ids:
        return None

    def run() -> None:
        for delivery_id in delivery_ids:
            try:
                deliver(engine, delivery_id)
            except Exception:  # noqa: BLE001 - a background sender must log, never die silently mid-list
                log.exception("webhook delivery %s: first attempt failed unexpectedly; deliver-webhooks will retry it", delivery_id)

    thread = threading.Thread(target=run, name="countersign-webhooks", daemon=True)
    thread.start()
    # A short-lived process (the CLI's `export`) waits for its first attempts before exiting,
    # rather than cutting a send off halfway; a long-lived one (the app) never notices.
    atexit.register(thread.join, timeout=settings().webhook_timeout_seconds * len(delivery_ids) + 5)
    return thread


# ------------------------------------------------------------------ what the admin sees and can do


@dataclass(frozen=True)
class DeliveryInfo:
    id: int
    endpoint: str
    event: str
    event_id: str
    campaign_id: int | None
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: datetime | None
    created_at: datetime


def recent_deliveries(session: Session, actor: User, *, limit: int = 50) -> list[DeliveryInfo]:
    from .auth import require_role
    from .models import Role

    require_role(actor, Role.ADMIN)
    rows = session.exec(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    ).all()
    return [
        DeliveryInfo(
            pk(d),
            e.name,
            d.event,
            d.event_id,
            d.campaign_id,
            d.status,
            d.attempts,
            d.last_status_code,
            d.last_error,
            d.next_attempt_at if d.status == DeliveryStatus.PENDING else None,
            d.created_at,
        )
        for d, e in rows
    ]


def retry_delivery(session: Session, actor: User, delivery_id: int) -> WebhookDelivery:
    """An admin sends a given-up delivery again (the receiver is fixed): pending, due now."""
    from . import audit
    from .auth import require_role
    from .locks import lock_one
    from .models import Role

    require_role(actor, Role.ADMIN)
    d = lock_one(session, WebhookDelivery, delivery_id, "webhook delivery")
    endpoint = session.get(WebhookEndpoint, d.endpoint_id)
    if endpoint is None or not endpoint.active:
        raise NotFound(f"webhook delivery {delivery_id}: its endpoint is disabled; register it again to send")
    if d.status != DeliveryStatus.FAILED:
        raise Conflict(f"webhook delivery {delivery_id} is {d.status}; only a failed delivery is sent again")
    d.status, d.next_attempt_at, d.claimed_until = DeliveryStatus.PENDING, utcnow(), None
    session.add(d)
    audit.append(session, actor=actor.username, action="webhook_retried", entity="webhook_delivery", entity_id=d.id, after={"event_id": d.event_id})
    return d
