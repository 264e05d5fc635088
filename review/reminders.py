"""Reminders for review work that is due soon or overdue (`python -m review remind`, from cron).

For every open assignment of a draft in review whose campaign has a due date: within 24 hours
of it, a `due_soon` notification; past it, an `overdue` one. At most one per assignment per kind
per UTC day (the notification's `dedupe_key`, unique in the database), so running it every few
minutes, or twice at once, reminds once. It also assigns open steps still without a reviewer
(drafts that entered review before assignments existed, or when nobody could take a step) and
retries notification emails that failed. Emails go out after the run's transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from . import assignments, notifications
from .due_dates import as_utc, due_state
from .locks import lock_rows
from .models import Assignment, AssignmentState, Campaign, Draft, Notification, NotificationKind, Status, pk, utcnow


@dataclass
class RemindReport:
    assigned: int = 0
    reminded: dict[str, int] = field(default_factory=lambda: {NotificationKind.DUE_SOON: 0, NotificationKind.OVERDUE: 0})
    already: int = 0  # reminders skipped: one of that kind was given today
    retried: int = 0  # failed emails queued for another try
    notification_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.reminded[NotificationKind.DUE_SOON]} due-soon and {self.reminded[NotificationKind.OVERDUE]} overdue reminder(s), "
            f"{self.already} already sent today, {self.assigned} new assignment(s), {self.retried} email(s) retried"
        )


def dedupe_key(kind: str, assignment_id: int, now: datetime) -> str:
    return f"{kind}:{assignment_id}:{as_utc(now):%Y-%m-%d}"


def remind(session: Session, *, now: datetime | None = None) -> RemindReport:
    """Create today's due-soon and overdue reminders (in the caller's transaction)."""
    now = now or utcnow()
    report = RemindReport()
    report.assigned = len(assignments.sweep(session))
    q = (
        select(Assignment.id)
        .join(Draft, col(Draft.id) == col(Assignment.draft_id))
        .join(Campaign, col(Campaign.id) == col(Draft.campaign_id))
        .where(Assignment.state == AssignmentState.OPEN, Draft.status == Status.IN_REVIEW, col(Campaign.due_at).is_not(None))
    )
    ids = [i for i in session.exec(q).all() if i is not None]
    # Locking the assignments serializes two runs at once: the second sees the first one's reminders.
    for a in lock_rows(session, Assignment, ids):
        if a.state != AssignmentState.OPEN:
            continue
        draft = session.get(Draft, a.draft_id)
        camp = session.get(Campaign, draft.campaign_id) if draft is not None else None
        if draft is None or camp is None or camp.due_at is None or draft.status != Status.IN_REVIEW:
            continue
        state = due_state(camp.due_at, now)
        if state not in (NotificationKind.DUE_SOON, NotificationKind.OVERDUE):
            continue
        key = dedupe_key(state, pk(a), now)
        if session.exec(select(Notification.id).where(Notification.dedupe_key == key)).first() is not None:
            report.already += 1
            continue
        due = as_utc(camp.due_at)
        when = "was due" if state == NotificationKind.OVERDUE else "is due"
        title = f"Draft {draft.id} of '{camp.name}' ({a.step} step) {when} at {due:%Y-%m-%d %H:%M} UTC"
        n = notifications.notify(
            session, a.reviewer_id, state, title=title, draft_id=pk(draft), campaign_id=pk(camp), assignment_id=pk(a), actor="system", dedupe_key=key
        )
        if n is not None:
            report.reminded[state] += 1
            report.notification_ids.append(pk(n))
    report.retried = len([i for i in notifications.retry_failed(session) if i not in report.notification_ids])
    return report
