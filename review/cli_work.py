"""`python -m review` commands for review work: reminders (cron), assignments, "my work", due
dates, absences and email addresses. Registered on the `cli` group by importing this module
(one line at the end of review/cli.py); each calls the same service the app calls."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlmodel import Session

from . import cli as base
from .cli import as_user, cli, friendly, password_opt
from .errors import InvalidInput, NotFound


def _user_id(session: Session, username: str) -> int:
    from sqlmodel import select

    from .models import User, pk

    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        raise NotFound(f"no user named '{username}'")
    return pk(user)


def parse_when(raw: str) -> datetime:
    """'2026-12-01', '2026-12-01 17:00' or ISO 8601 with an offset; without one, UTC."""
    text = raw.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{raw}' is not a date: use YYYY-MM-DD, YYYY-MM-DD HH:MM (UTC) or ISO 8601 with an offset") from None
    if len(text) == 10:  # a date alone: due at the end of that day
        when = when.replace(hour=23, minute=59)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@cli.command("remind")
@click.option("--quiet", is_flag=True, help="Print nothing unless something failed (for cron).")
@friendly
def remind_cmd(quiet: bool) -> None:
    """Create today's due-soon and overdue reminders and email them (idempotent: one per
    assignment per kind per day); also assigns open steps nobody has and retries failed emails."""
    from sqlmodel import col, select

    from .db import session_scope
    from .models import Delivery, Notification
    from .reminders import remind

    engine = base._engine()
    with session_scope(engine) as s:
        report = remind(s)
    with session_scope(engine) as s:  # emails went out after the commit: read how each one fared
        ids = report.notification_ids
        failed = s.exec(select(Notification).where(col(Notification.id).in_(ids), Notification.email_status == Delivery.FAILED)).all() if ids else []
    if not quiet or failed:
        click.echo(report.summary())
    for n in failed:
        click.echo(f"email for notification {n.id} failed: {n.email_error}", err=True)
    if failed:
        raise SystemExit(1)


@cli.command("assign")
@click.argument("draft_id", type=int)
@click.option("--to", "to", required=True, help="The reviewer to assign.")
@click.option("--step", "step", default="review", show_default=True, help="The review step (brand.yaml `review:`; 'review' for approvals_required).")
@click.option("--replace", "replace", default=None, help="The assigned reviewer the new one replaces (when the step has all it needs).")
@as_user
@password_opt
@friendly
def assign_cmd(draft_id: int, to: str, step: str, replace: str | None, username: str, password: str) -> None:
    """Assign a step of a draft in review to a reviewer (admin or reviewer)."""
    from .assignments import assign
    from .db import session_scope

    with session_scope(base._engine()) as s:
        actor = base._login(s, username, password)
        replaced = _user_id(s, replace) if replace else None
        a = assign(s, actor, draft_id, step=step, to_user_id=_user_id(s, to), replace_user_id=replaced)
        click.echo(f"draft {draft_id}: {step} step assigned to {to} (assignment {a.id})")


@cli.command("my-work")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@as_user
@password_opt
@friendly
def my_work_cmd(fmt: str, username: str, password: str) -> None:
    """What is waiting on you: assigned drafts (overdue first) and your drafts' state."""
    import dataclasses
    import json

    from .db import session_scope
    from .my_work import my_work

    with session_scope(base._engine()) as s:
        work = my_work(s, base._login(s, username, password))
    if fmt == "json":
        click.echo(json.dumps(dataclasses.asdict(work), default=str, indent=2))
        return
    for w in work.assigned:
        due = f"due {w.due_at:%Y-%m-%d %H:%M} UTC" if w.due_at else "no due date"
        flag = "OVERDUE\t" if w.overdue else ""
        click.echo(f"{flag}#{w.draft_id}\t{w.step}\t{w.campaign}\t{w.variant}\t{due}")
    for c in work.changes_requested:
        click.echo(f"changes requested\t#{c.draft_id}\t{c.campaign}\tby {c.comment_by}: {c.comment}")
    for i in work.in_progress:
        waiting = f"\twaiting on {', '.join(i.assigned) or ', '.join(i.open_steps) or '-'}" if i.open_steps else ""
        click.echo(f"{i.status}\t#{i.draft_id}\t{i.campaign}{waiting}")
    for g in work.unassigned:
        click.echo(f"unassigned\t#{g.draft_id}\t{g.step}\t{g.campaign}")
    click.echo(f"{len(work.assigned)} assigned ({work.overdue} overdue), {len(work.changes_requested)} with changes requested")


@cli.command("set-due")
@click.argument("campaign_id", type=int)
@click.argument("when")
@as_user
@password_opt
@friendly
def set_due_cmd(campaign_id: int, when: str, username: str, password: str) -> None:
    """Set when a campaign's review is due (YYYY-MM-DD[ HH:MM] UTC, or ISO 8601); 'none' clears it."""
    from .db import session_scope
    from .due_dates import set_due_date

    due = None if when.strip().lower() == "none" else parse_when(when)
    with session_scope(base._engine()) as s:
        camp = set_due_date(s, base._login(s, username, password), campaign_id, due)
        click.echo(f"campaign {camp.id}: " + (f"due {camp.due_at:%Y-%m-%d %H:%M} UTC" if camp.due_at else "no due date"))


@cli.command("away")
@click.argument("user")
@click.option("--back", is_flag=True, help="Mark the reviewer back instead.")
@click.option("--note", default="", help="Why, for the record.")
@as_user
@password_opt
@friendly
def away_cmd(user: str, back: bool, note: str, username: str, password: str) -> None:
    """Mark a reviewer away (their open assignments move to others) or back (admin)."""
    from .assignments import set_away
    from .db import session_scope

    with session_scope(base._engine()) as s:
        report = set_away(s, base._login(s, username, password), _user_id(s, user), away=not back, note=note)
    click.echo(f"{report.user} is {'away' if report.away else 'back'}")
    for draft_id, step, to in report.moved:
        click.echo(f"  draft {draft_id} ({step}) moved to {to}")
    for draft_id, step in report.unassigned:
        click.echo(f"  draft {draft_id} ({step}): no eligible reviewer left; it waits unassigned")


@cli.command("set-email")
@click.argument("user")
@click.argument("address")
@as_user
@password_opt
@friendly
def set_email_cmd(user: str, address: str, username: str, password: str) -> None:
    """Set a user's email address for notifications ('' clears it; admin)."""
    from .db import session_scope
    from .profiles import set_email

    with session_scope(base._engine()) as s:
        u = set_email(s, base._login(s, username, password), _user_id(s, user), address)
        click.echo(f"{u.username}: {u.email or 'no email address'}")
