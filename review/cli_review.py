"""The reviewer's actions on the command line (`python -m review approve|request-changes|reject|review-roles`).

`approve` shows the reviewer what they sign (the draft's slot texts, the content hash the
signature covers, the warnings to acknowledge and the review step) before it asks for the
password, and signs exactly that hash: a draft edited in between is refused, never signed
unseen. Each command runs one service in one unit of work (review.db.session_scope), so a
refusal is recorded in the audit trail like one in the app. Registered on the `cli` group by
review/cli.py (`add_review_commands`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from sqlmodel import Session, select

from .cli_common import as_user, password_opt
from .cli_common import engine as _engine
from .cli_common import friendly as _friendly
from .errors import InvalidInput

if TYPE_CHECKING:
    from .step_views import SigningSheet, StepPlan


# Asked for after the sheet is shown (approve), or by click before the command runs (the others).
password_later = click.option(
    "--password", envvar="COUNTERSIGN_PASSWORD", default=None, help="Acting user's password (or env COUNTERSIGN_PASSWORD; else asked, hidden)."
)
password_now = password_opt


def _meaning(value: str | None) -> str:
    """A signature meaning given as its text or its number in the list; asked when not given."""
    from .signing import SIGNATURE_MEANINGS

    if value is None:
        for i, m in enumerate(SIGNATURE_MEANINGS, 1):
            click.echo(f"  {i}. {m}")
        number: int = click.prompt("What does your signature mean? (number)", type=click.IntRange(1, len(SIGNATURE_MEANINGS)))
        return SIGNATURE_MEANINGS[number - 1]
    if value.isdigit() and 1 <= int(value) <= len(SIGNATURE_MEANINGS):
        return SIGNATURE_MEANINGS[int(value) - 1]
    if value in SIGNATURE_MEANINGS:
        return value
    listed = "; ".join(f"{i}. {m}" for i, m in enumerate(SIGNATURE_MEANINGS, 1))
    raise InvalidInput(f"--meaning must be one of the signature meanings (its text or number): {listed}")


def _show_plan(plan: StepPlan) -> None:
    click.echo(f"review plan ({plan.order}): {plan.summary}")
    for r in plan.rows:
        state = "done" if r.satisfied else ("open" if r.open else "waiting")
        who = ", ".join(r.signers) or "no signature yet"
        role = "any reviewer" if r.role == "reviewer" else f"role {r.role}"
        click.echo(f"  {r.name} ({role}, {len(r.signers)}/{r.count}) [{state}]: {who}")


def _show_sheet(sheet: SigningSheet) -> None:
    click.echo(f"draft {sheet.draft_id} — campaign '{sheet.campaign}', revision {sheet.revision}, {sheet.status}")
    for name, text in sheet.slots.items():
        click.echo(f"  [{name}] {text}")
    click.echo(f"content hash (what your signature covers): {sheet.content_hash}")
    for ack, message in sheet.warnings:
        click.echo(f"  warning {ack}: {message}")
    _show_plan(sheet.plan)


def _acknowledged(sheet: SigningSheet, ack: tuple[str, ...]) -> list[str]:
    """The warnings acknowledged with --ack: `all` (every warning shown above) or their ids."""
    shown = [i for i, _ in sheet.warnings]
    if "all" in ack:
        return shown
    unknown = [a for a in ack if a not in shown]
    if unknown:
        raise InvalidInput(f"--ack {unknown[0]}: draft {sheet.draft_id} has no such warning (its warnings are listed above)")
    missing = [i for i in shown if i not in ack]
    if missing:
        raise InvalidInput(f"draft {sheet.draft_id} has {len(missing)} warning(s) not acknowledged; read them above and pass --ack all (or --ack ID for each)")
    return list(ack)


def _user_named(session: Session, username: str) -> Any:
    from .models import User

    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None or not user.active:
        raise InvalidInput("Wrong username or password.")  # the same answer as a failed login: names are not revealed
    return user


@click.command("approve")
@click.argument("draft_id", type=int)
@as_user
@click.option("--step", default=None, help="The review step you sign (needed when you may sign several).")
@click.option("--meaning", default=None, help="What the signature means: its text or number (asked when not given).")
@click.option("--ack", multiple=True, help="Acknowledge warnings: 'all' (every warning shown) or one id per --ack.")
@password_later
@_friendly
def approve_cmd(draft_id: int, username: str, step: str | None, meaning: str | None, ack: tuple[str, ...], password: str | None) -> None:
    """Sign DRAFT_ID for one review step, after reading exactly what the signature covers."""
    from .auth import authenticate
    from .db import session_scope
    from .routing import choose_step
    from .step_views import signing_sheet
    from .workflow import approve, get_draft

    engine = _engine()
    with Session(engine) as s:
        user = _user_named(s, username)
        sheet = signing_sheet(s, user, draft_id)
        _show_sheet(sheet)
        acked = _acknowledged(sheet, ack)
        chosen = choose_step(s, get_draft(s, draft_id), user, step)  # says now what the draft waits for, before any password
    click.echo(f"you sign the {chosen.name} step of draft {draft_id}, revision {sheet.revision}")
    what = _meaning(meaning)
    if password is None:
        password = click.prompt("Password (re-enter to sign)", hide_input=True)
    with session_scope(engine) as s:
        signer = authenticate(s, username, password)
        appr = approve(s, signer, draft_id, password=password, meaning=what, expected_content_hash=sheet.content_hash, acknowledged=acked, step=chosen.name)
        status = get_draft(s, draft_id).status
        click.echo(f"signed: signature {appr.id}, step {appr.step}, meaning '{appr.meaning}', manifest {appr.manifest_hash}")
        click.echo(f"draft {draft_id} is {status.replace('_', ' ')}")


@click.command("request-changes")
@click.argument("draft_id", type=int)
@as_user
@click.option("--comment", required=True, help="What must change (3 characters or more).")
@password_now
@_friendly
def request_changes_cmd(draft_id: int, username: str, comment: str, password: str) -> None:
    """Send DRAFT_ID back to its author with a comment; every signature on it is voided."""
    from .auth import authenticate
    from .db import session_scope
    from .workflow import request_changes

    with session_scope(_engine()) as s:
        draft = request_changes(s, authenticate(s, username, password), draft_id, comment=comment)
        click.echo(f"draft {draft.id} sent back for changes")


@click.command("reject")
@click.argument("draft_id", type=int)
@as_user
@click.option("--comment", required=True, help="Why it is rejected (3 characters or more).")
@password_now
@_friendly
def reject_cmd(draft_id: int, username: str, comment: str, password: str) -> None:
    """Reject DRAFT_ID for good, with a comment; every signature on it is voided."""
    from .auth import authenticate
    from .db import session_scope
    from .workflow import reject

    with session_scope(_engine()) as s:
        draft = reject(s, authenticate(s, username, password), draft_id, comment=comment)
        click.echo(f"draft {draft.id} rejected")


@click.command("review-roles")
@click.argument("user")
@click.option("--set", "roles", default=None, help="Comma-separated review roles the user holds from now on (e.g. medical,legal; '' clears them).")
@as_user
@password_now
@_friendly
def review_roles_cmd(user: str, roles: str | None, username: str, password: str) -> None:
    """Show (or, with --set, replace) the review roles USER holds. Admins only."""
    from .auth import authenticate, require_role
    from .db import session_scope
    from .models import Role
    from .routing import review_roles, set_review_roles

    with session_scope(_engine()) as s:
        admin = authenticate(s, username, password)
        require_role(admin, Role.ADMIN)
        target = _any_user_named(s, user)
        held = review_roles(s, target.id) if roles is None else set_review_roles(s, admin, target.id, roles.split(","))
        click.echo(f"{target.username}: {', '.join(held) if held else 'no review roles'}")


def _any_user_named(session: Session, username: str) -> Any:
    from .errors import NotFound
    from .models import User

    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        raise NotFound(f"no user '{username.strip()}'")
    return user


REVIEW_COMMANDS = (approve_cmd, request_changes_cmd, reject_cmd, review_roles_cmd)


def add_review_commands(group: click.Group) -> None:
    for command in REVIEW_COMMANDS:
        group.add_command(command)
