"""`python -m review expiring` and `python -m review withdraw-campaign`: expiry and recalls from
the command line (cron can run `expiring --fail-if-expired` and alert on a non-zero exit).

Registered on review.cli's group by one line at its end; the commands call the same services the
app calls (review.expiry, review.recalls)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .cli import _engine, _login, as_user, cli, friendly, password_opt


@cli.command("expiring")
@click.option("--within", "within_days", type=int, default=30, show_default=True, help="List what expires within this many days (and what has).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--fail-if-expired", is_flag=True, help="Exit 1 when an approved draft's approval or an active claim has already expired.")
@as_user
@password_opt
@friendly
def expiring_cmd(within_days: int, fmt: str, fail_if_expired: bool, username: str, password: str) -> None:
    """List approvals and claims expiring soon (or expired), per brand."""
    from .db import session_scope
    from .expiry import expiring
    from .models import Status

    with session_scope(_engine()) as s:
        report = expiring(s, _login(s, username, password), within_days=within_days)
    expired = 0
    out: list[dict[str, Any]] = []
    for b in report.brands:
        approvals = [
            {
                "draft_id": a.draft_id,
                "campaign": a.campaign,
                "status": a.status,
                "expires_at": a.expires_at.isoformat() if a.expires_at else None,
                "expired": a.expired,
            }
            for a in b.approvals
        ]
        claims = [{"claim_id": c.claim_id, "valid_until": c.valid_until.isoformat(), "expired": c.expired} for c in b.claims]
        expired += sum(a.expired and a.status == Status.APPROVED for a in b.approvals) + sum(c.expired for c in b.claims)
        out.append({"brand": b.slug, "approval_valid_days": b.approval_valid_days, "approvals": approvals, "claims": claims, "problems": b.problems})
    if fmt == "json":
        click.echo(json.dumps({"now": report.now.isoformat(), "within_days": report.within_days, "brands": out}, indent=2))
    else:
        for row in out:
            for a in row["approvals"]:
                state = "EXPIRED" if a["expired"] else "expires"
                click.echo(f"{row['brand']}\tdraft {a['draft_id']}\t{a['status']}\t{state} {a['expires_at'] or '(approval time unknown)'}\t{a['campaign']}")
            for c in row["claims"]:
                click.echo(f"{row['brand']}\tclaim {c['claim_id']}\t{'EXPIRED' if c['expired'] else 'valid until'} {c['valid_until']}")
            for p in row["problems"]:
                click.echo(f"{row['brand']}\tclaims.yaml problem: {p}")
        if report.empty:
            click.echo(f"nothing expires within {report.within_days} days")
    if fail_if_expired and expired:
        click.echo(f"{expired} expired approval(s) or claim(s) need attention", err=True)
        sys.exit(1)


@cli.command("withdraw-campaign")
@click.argument("campaign_id", type=int)
@click.option("--comment", required=True, help="Why the campaign is withdrawn (recorded in the recall and the audit trail).")
@as_user
@password_opt
@friendly
def withdraw_campaign_cmd(campaign_id: int, comment: str, username: str, password: str) -> None:
    """Withdraw every approved or published draft of a campaign; published content is recalled."""
    from .db import session_scope
    from .recalls import withdraw_campaign

    with session_scope(_engine()) as s:
        result = withdraw_campaign(s, _login(s, username, password), campaign_id, comment)
    rec = result.recall
    recalled = (
        f"; recall {rec.id} ({rec.recipient_count} recipient(s)) written to {rec.json_path} and {rec.csv_path}" if rec else "; nothing had been published"
    )
    click.echo(f"withdrew {len(result.withdrawn)} draft(s) of campaign {campaign_id}{recalled}")
