"""Notifications: an in-app inbox per user, and the same message by email.

`notify` adds a notification in the caller's transaction (with an audit event). Email goes out
only once that transaction commits (review.db.after_outcome), never inside it: a rolled-back
action mails nobody, and a slow or broken mail server never holds a lock or undoes a decision.
Each notification records its delivery (`email_status`, `email_error`); `remind` retries failed
ones. Email is off unless COUNTERSIGN_SMTP_HOST is set (review.config); sending is review.mailer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from . import audit
from .config import settings
from .db import after_outcome
from .errors import InvalidInput, NotFound
from .models import Campaign, Delivery, Draft, Notification, NotificationKind, User, pk, utcnow

log = logging.getLogger(__name__)
_PENDING_KEY = "countersign_mail_pending"
MAX_ATTEMPTS = 5  # email tries per notification (the first, then `remind` retries)

KIND_LABELS = {
    NotificationKind.ASSIGNED: "Assigned to you",
    NotificationKind.CHANGES_REQUESTED: "Changes requested",
    NotificationKind.APPROVED: "Approved",
    NotificationKind.REJECTED: "Rejected",
    NotificationKind.DUE_SOON: "Due soon",
    NotificationKind.OVERDUE: "Overdue",
}


def draft_link(draft_id: int) -> str:
    """The app path that opens a draft (ui.common.open_draft puts the id in the same parameter);
    opened while logged out, the login form shows first and the draft after it."""
    return f"/draft?draft={int(draft_id)}"


def notify(
    session: Session,
    user_id: int,
    kind: str,
    *,
    title: str,
    comment: str = "",
    draft_id: int | None = None,
    campaign_id: int | None = None,
    assignment_id: int | None = None,
    actor: str = "system",
    dedupe_key: str | None = None,
) -> Notification | None:
    """Add a notification for one user in the caller's transaction; its email (if configured and
    the user has an address) is sent after the commit. None for a deactivated user."""
    if kind not in NotificationKind.ALL:
        raise InvalidInput(f"unknown notification kind '{kind}' (one of: {', '.join(NotificationKind.ALL)})")
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    cfg = settings().smtp
    status = Delivery.OFF if not cfg.enabled else (Delivery.PENDING if user.email else Delivery.NO_ADDRESS)
    n = Notification(
        user_id=user_id,
        kind=kind,
        title=" ".join(title.split())[:300],
        comment=comment.strip(),
        link=draft_link(draft_id) if draft_id is not None else "",
        draft_id=draft_id,
        campaign_id=campaign_id,
        assignment_id=assignment_id,
        actor=actor,
        dedupe_key=dedupe_key,
        email_status=status,
    )
    session.add(n)
    session.flush()
    after = {"user": user.username, "kind": kind, "draft_id": draft_id, "email": status}
    audit.append(session, actor=actor, action="notified", entity="notification", entity_id=n.id, after=after)
    if status == Delivery.PENDING:
        _send_after_commit(session, pk(n))
    return n


def notify_authors(session: Session, draft: Draft, kind: str, *, actor: User, comment: str = "") -> list[Notification]:
    """Tell a draft's author (and its campaign's creator) what a reviewer decided, with the comment."""
    camp = session.get(Campaign, draft.campaign_id)
    recipients = {draft.author_id} | ({camp.created_by} if camp is not None else set())
    recipients.discard(pk(actor))
    what = {
        NotificationKind.CHANGES_REQUESTED: f"{actor.full_name} requested changes to draft {draft.id}",
        NotificationKind.APPROVED: f"Draft {draft.id} is approved",
        NotificationKind.REJECTED: f"{actor.full_name} rejected draft {draft.id}",
    }[kind]
    title = f"{what} ('{camp.name}')" if camp is not None else what
    out = []
    for uid in sorted(recipients):
        n = notify(session, uid, kind, title=title, comment=comment, draft_id=pk(draft), campaign_id=draft.campaign_id, actor=actor.username)
        if n is not None:
            out.append(n)
    return out


# ------------------------------------------------------------------------- email after commit


def _send_after_commit(session: Session, notification_id: int) -> None:
    """Queue an email for when the session's transaction commits (one hook per transaction)."""
    pending: list[int] | None = session.info.get(_PENDING_KEY)
    if pending is not None:
        if notification_id not in pending:
            pending.append(notification_id)
        return
    pending = session.info[_PENDING_KEY] = [notification_id]
    engine = session.get_bind()

    def committed() -> None:
        ids = session.info.pop(_PENDING_KEY, [])
        try:
            deliver(engine, ids)  # type: ignore[arg-type]  # a Session's bind is the Engine it was opened on
        except Exception:  # noqa: BLE001 - the decision is committed; a mail failure must never undo or hide it
            log.exception("sending notification emails failed")

    def rolled_back() -> None:
        session.info.pop(_PENDING_KEY, None)

    after_outcome(session, committed=committed, rolled_back=rolled_back)


def deliver(engine: Engine, ids: list[int]) -> dict[str, int]:
    """Send the pending emails among `ids`, one message per user (a digest when several), and
    record each one's outcome. Rows are claimed first (pending → sending, committed), so two
    senders never send the same notification, and no lock is held while the mail server talks."""
    from .mailer import MailError, compose, send

    counts = {Delivery.SENT: 0, Delivery.FAILED: 0}
    if not ids:
        return counts
    with Session(engine, expire_on_commit=False) as s:
        claim = (
            update(Notification)
            .where(col(Notification.id).in_(ids), col(Notification.email_status).in_((Delivery.PENDING, Delivery.FAILED)))
            .where(col(Notification.email_attempts) < MAX_ATTEMPTS)
            .values(email_status=Delivery.SENDING, email_attempts=Notification.email_attempts + 1)
        )
        s.execute(claim)
        s.commit()
        claimed = select(Notification).where(col(Notification.id).in_(ids), Notification.email_status == Delivery.SENDING)
        rows = list(s.exec(claimed.order_by(col(Notification.id))).all())
        by_user: dict[int, list[Notification]] = {}
        for n in rows:
            by_user.setdefault(n.user_id, []).append(n)
        for uid, items in by_user.items():
            user = s.get(User, uid)
            error = ""
            if user is None or not user.email:
                error = "the user has no email address"
            else:
                try:
                    send(settings().smtp, compose(settings(), user, items))
                except MailError as e:
                    error = str(e)
            status = Delivery.FAILED if error else Delivery.SENT
            for n in items:
                n.email_status, n.email_error = status, error[:500]
                n.emailed_at = None if error else utcnow()
                s.add(n)
                after = {"user": user.username if user else uid, "to": user.email if user else None, "error": error[:500]}
                audit.append(s, actor="system", action=f"notification_email_{status}", entity="notification", entity_id=n.id, after=after)
            counts[status] += len(items)
            s.commit()
    return counts


def retry_failed(session: Session) -> list[int]:
    """Failed or stranded emails worth another try (the caller sends them after its commit)."""
    q = select(Notification.id).where(col(Notification.email_status).in_((Delivery.FAILED, Delivery.PENDING)), col(Notification.email_attempts) < MAX_ATTEMPTS)
    ids = [i for i in session.exec(q).all() if i is not None]
    for i in ids:
        _send_after_commit(session, i)
    return ids


# ------------------------------------------------------------------------- the inbox


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: str
    label: str
    title: str
    comment: str
    link: str
    draft_id: int | None
    actor: str
    created_at: datetime
    read: bool
    email_status: str
    email_error: str


@dataclass(frozen=True)
class Inbox:
    items: list[InboxItem]
    unread: int
    total: int


def inbox(session: Session, actor: User, *, unread_only: bool = False, limit: int = 200) -> Inbox:
    """The user's notifications, newest first (every role has an inbox)."""
    q = select(Notification).where(Notification.user_id == actor.id)
    if unread_only:
        q = q.where(col(Notification.read_at).is_(None))
    rows = session.exec(q.order_by(col(Notification.id).desc()).limit(max(1, min(limit, 1000)))).all()
    items = [_item(n) for n in rows]
    total = session.exec(select(func.count()).select_from(Notification).where(Notification.user_id == actor.id)).one()
    return Inbox(items, unread_count(session, actor), int(total))


def unread_count(session: Session, actor: User) -> int:
    q = select(func.count()).select_from(Notification).where(Notification.user_id == actor.id, col(Notification.read_at).is_(None))
    return int(session.exec(q).one())


def mark_read(session: Session, actor: User, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (`ids`, or all unread); returns how many changed. Only
    one's own: another user's notification is 'not found', never marked."""
    q = select(Notification).where(Notification.user_id == actor.id, col(Notification.read_at).is_(None))
    if ids is not None:
        wanted = {int(i) for i in ids}
        mine = set(session.exec(select(Notification.id).where(col(Notification.id).in_(wanted), Notification.user_id == actor.id)).all())
        if wanted - mine:
            raise NotFound(f"notification {min(wanted - mine)} not found in {actor.username}'s inbox")
        q = q.where(col(Notification.id).in_(wanted))
    rows = list(session.exec(q).all())
    now = utcnow()
    for n in rows:
        n.read_at = now
        session.add(n)
    if rows:
        after = {"ids": [n.id for n in rows]}
        audit.append(session, actor=actor.username, action="notifications_read", entity="user", entity_id=actor.id, after=after)
    return len(rows)


def open_notification(session: Session, actor: User, notification_id: int) -> InboxItem:
    """Mark one notification read and return it (the page then opens its link)."""
    n = session.get(Notification, notification_id)
    if n is None or n.user_id != actor.id:
        raise NotFound(f"notification {notification_id} not found in {actor.username}'s inbox")
    if n.read_at is None:
        mark_read(session, actor, [notification_id])
    return _item(n)


def _item(n: Notification) -> InboxItem:
    label = KIND_LABELS.get(n.kind, n.kind)
    return InboxItem(pk(n), n.kind, label, n.title, n.comment, n.link, n.draft_id, n.actor, n.created_at, n.read_at is not None, n.email_status, n.email_error)
