"""`python -m review …`: the command line for operators and content pipelines.

Every failure exits non-zero with a one-line reason; tracebacks are for bugs only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlmodel import Session, select

from .cli_common import as_user as as_user
from .cli_common import engine as _engine
from .cli_common import friendly as friendly
from .cli_common import login as _login
from .cli_common import password_opt as password_opt
from .cli_review import add_review_commands
from .cli_worker import worker_command
from .errors import AuditChainBroken
from .guidelines.cli import check_command

if TYPE_CHECKING:  # the commands import their services lazily, so `--help` stays fast
    from .generation import Progress


@click.group()
def cli() -> None:
    """Countersign: human-approved, restrained AI personalization."""


@cli.command("init-db")
@friendly
def init_db() -> None:
    """Create or upgrade the database schema."""
    from .db import make_engine, migrate

    ran = migrate(make_engine())
    click.echo(f"applied {len(ran)} migration(s): {', '.join(ran) or 'none pending'}")


@cli.command("seed-demo")
@click.option("--no-generate", is_flag=True, help="Skip running the model (users, templates, audience, campaign only).")
@friendly
def seed_demo_cmd(no_generate: bool) -> None:
    """Seed the demo brand, users, templates, audience and a campaign in review."""
    from .demo import seed_demo

    seed_demo(_engine(), generate=not no_generate, log=click.echo)


@cli.command("save-template")
@click.argument("brand")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@as_user
@password_opt
@friendly
def save_template_cmd(brand: str, file: Path, username: str, password: str) -> None:
    """Validate FILE and save it as a new version of its template."""
    from .db import session_scope
    from .template_versions import save_template
    from .templates import read_template_file

    source = read_template_file(file)  # refuses a non-UTF-8 or oversized file before asking for anything else
    with session_scope(_engine()) as s:
        tv = save_template(s, _login(s, username, password), brand_slug=brand, source=source, filename=str(file))
        click.echo(f"template version {tv.id} (v{tv.version}) saved")


@cli.command("import-audience")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--brand", "brand", required=True, help="The brand the audience is for: its declared fields are kept and checked.")
@as_user
@password_opt
@friendly
def import_audience_cmd(name: str, file: Path, brand: str, username: str, password: str) -> None:
    """Import a recipients CSV (id, fields…, personalization_consent) for one brand."""
    from .audiences import import_audience
    from .db import session_scope
    from .models import AuditEvent

    with session_scope(_engine()) as s:
        aud = import_audience(s, _login(s, username, password), name=name, brand_slug=brand, data=file.read_bytes(), source=str(file))
        click.echo(f"audience {aud.id}: {aud.row_count} recipients, {aud.consent_count} with personalization consent")
        # What was dropped is on record in the import's audit event; say it here too.
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "audience_imported", AuditEvent.entity_id == str(aud.id))).one()
        for column, why in event.after.get("dropped", {}).items():
            click.echo(f"column '{column}' dropped ({why})")


@cli.command("create-campaign")
@click.argument("name")
@click.option("--template-version", "template_version_id", type=int, required=True)
@click.option("--audience", "audience_id", type=int, required=True)
@as_user
@password_opt
@friendly
def create_campaign_cmd(name: str, template_version_id: int, audience_id: int, username: str, password: str) -> None:
    """Create a campaign and group its recipients into variants."""
    from .campaigns import campaign_variants, create_campaign
    from .db import session_scope
    from .models import pk

    with session_scope(_engine()) as s:
        camp = create_campaign(s, _login(s, username, password), name=name, template_version_id=template_version_id, audience_id=audience_id)
        click.echo(f"campaign {camp.id}: {len(campaign_variants(s, pk(camp)))} variants")


@cli.command("generate")
@click.argument("campaign_id", type=int)
@click.option(
    "--model",
    "model_path",
    default=None,
    help="Local model directory or GGUF file (default: the inference server at COUNTERSIGN_MODEL_URL when set, else the bundled SmolLM2).",
)
@as_user
@password_opt
@friendly
def generate_cmd(campaign_id: int, model_path: str | None, username: str, password: str) -> None:
    """Fill and check every variant of a campaign (resumes an interrupted run)."""
    from .cli_worker import generate_in_team_mode
    from .db import session_scope
    from .filling import load_filler
    from .generation import generate_campaign

    engine = _engine()
    with session_scope(engine) as s:
        user = _login(s, username, password)
    if generate_in_team_mode(engine, user, campaign_id):  # team mode: the workers generate (review/cli_worker.py)
        return
    filler = load_filler(model_path)

    def show(p: Progress) -> None:
        eta = f", ETA {p.eta_seconds:.0f}s" if p.eta_seconds is not None else ""
        click.echo(f"\r{p.done}/{p.total} variants{eta}", nl=False, err=True)

    result = generate_campaign(engine, user, campaign_id, filler, on_progress=show)
    click.echo("", err=True)
    click.echo(f"generation {result.status}: {result.done}/{result.total} variants")


@cli.command("submit")
@click.argument("campaign_id", type=int)
@as_user
@password_opt
@friendly
def submit_cmd(campaign_id: int, username: str, password: str) -> None:
    """Submit every draft of a campaign that may go to review (no error-level finding; a draft sent
    back for changes only once it changed)."""
    from .db import session_scope
    from .workflow import submit_ready

    with session_scope(_engine()) as s:
        user = _login(s, username, password)
        report = submit_ready(s, user, campaign_id)
        click.echo(f"submitted {len(report.submitted)} draft(s); {len(report.skipped)} held back")
        for draft_id, why in report.skipped:
            click.echo(f"  draft {draft_id}: {why}")


@cli.command("list-queue")
@click.option("--status", default="in_review", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@friendly
def list_queue_cmd(status: str, fmt: str) -> None:
    """List drafts in a status, riskiest first."""
    from .queue import QueueFilter, review_queue

    with Session(_engine()) as s:
        page = review_queue(s, QueueFilter(statuses=(status,)), page_size=10_000)
    if fmt == "json":
        click.echo(json.dumps([r.__dict__ for r in page.rows], default=str, indent=2))
        return
    for r in page.rows:
        click.echo(
            f"#{r.draft_id}\t{r.status}\t{r.campaign}\t{r.variant}\terrors={r.errors} warnings={r.warnings} fallbacks={r.fallbacks}\trecipients={r.recipients}"
        )
    click.echo(f"{page.total} draft(s)")


@cli.command("export")
@click.argument("campaign_id", type=int)
@click.option("--dir", "export_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@as_user
@password_opt
@friendly
def export_cmd(campaign_id: int, export_dir: Path | None, username: str, password: str) -> None:
    """Publish an approved campaign as JSONL + CSV."""
    from .db import session_scope
    from .export import publish

    with session_scope(_engine()) as s:
        exp = publish(s, _login(s, username, password), campaign_id, export_dir)
        click.echo(f"exported {exp.row_count} messages to {exp.jsonl_path} and {exp.csv_path}")


@cli.command("retire-claim")
@click.argument("brand")
@click.argument("claim_id")
@click.option("--reason", required=True, help="Why the claim may no longer be used.")
@as_user
@password_opt
@friendly
def retire_claim_cmd(brand: str, claim_id: str, reason: str, username: str, password: str) -> None:
    """Retire a claim; re-check the drafts that used it (approved ones go back to review)."""
    from .claims import retire_claim
    from .db import session_scope

    with session_scope(_engine()) as s:
        result = retire_claim(s, _login(s, username, password), brand, claim_id, reason=reason)
        click.echo(f"claim {claim_id} retired: {result.drafts_rechecked} draft(s) used it, {len(result.drafts_changed)} changed")


@cli.command("recheck")
@click.argument("brand")
@click.option("--reason", default="guideline files changed", show_default=True)
@as_user
@password_opt
@friendly
def recheck_cmd(brand: str, reason: str, username: str, password: str) -> None:
    """Re-check every open draft of a brand against its guideline files as they are now.

    Drafts whose findings changed lose their signatures; those in review or approved that now
    have an error go back to their author (needs changes), the others back to review."""
    from .db import session_scope
    from .workflow import recheck_brand

    with session_scope(_engine()) as s:
        changed = recheck_brand(s, _login(s, username, password), brand, reason=reason)
        click.echo(f"{len(changed)} draft(s) changed: {', '.join(map(str, changed)) or 'none'}")


@cli.command("verify-audit")
@click.option(
    "--checkpoint",
    "checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A checkpoint file kept outside the database (default: COUNTERSIGN_AUDIT_CHECKPOINTS when it exists).",
)
@friendly
def verify_audit_cmd(checkpoint: Path | None) -> None:
    """Verify the audit trail: every hash link and MAC, the head, and the checkpoints."""
    from .audit import verify_everything
    from .config import settings

    if checkpoint is not None and not checkpoint.is_file():
        raise click.UsageError(f"checkpoint file {checkpoint} not found")
    with Session(_engine()) as s:
        report = verify_everything(s, checkpoint)
    if not report.ok:
        raise AuditChainBroken(str(report))
    click.echo(str(report) + (f" (checkpoints: {checkpoint or settings().audit_checkpoint_file})" if report.checkpoints else ""))


@cli.command("audit-checkpoint")
@click.option("--to", "to", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Append here instead of COUNTERSIGN_AUDIT_CHECKPOINTS.")
@friendly
def audit_checkpoint_cmd(to: Path | None) -> None:
    """Append the audit chain's current head to the checkpoint file (run it from cron, and copy
    the file where the database's administrators cannot write)."""
    from .audit import current_checkpoint, verify_chain, write_checkpoint

    with Session(_engine()) as s:
        report = verify_chain(s)
        if not report.ok:
            raise AuditChainBroken(f"no checkpoint written: {report}")
        cp = current_checkpoint(s)
    path = write_checkpoint(cp, to)
    click.echo(f"checkpoint of event #{cp['seq']} appended to {path}")


@cli.command("regenerate")
@click.argument("draft_id", type=int)
@click.option("--verify", is_flag=True, required=True, help="Reproduce the draft from its recorded model, seed and settings.")
@click.option("--model", "model_path", default=None)
@friendly
def regenerate_cmd(draft_id: int, verify: bool, model_path: str | None) -> None:
    """Reproduce a stored draft and report whether it matches."""
    from .filling import load_filler
    from .generation import regenerate_verify

    with Session(_engine()) as s:
        report = regenerate_verify(s, draft_id, load_filler(model_path))
    click.echo(str(report))
    if not report.matches:
        sys.exit(1)


cli.add_command(check_command, "check")
add_review_commands(cli)  # approve, request-changes, reject, review-roles (review/cli_review.py)
from . import cli_record as cli_record  # noqa: E402  (registers `record` and `verify-record` on `cli`)
from . import cli_sso as cli_sso  # noqa: E402  (registers `link-sso` on `cli`)
from . import expiry_cli as expiry_cli  # noqa: E402  (registers `expiring` and `withdraw-campaign` on `cli`)
from .cli_tokens import register as _register_api_commands  # noqa: E402  (registers token, webhook and deliver-webhooks on `cli`)

_register_api_commands(cli)
cli.add_command(worker_command, "worker")
from . import cli_work  # noqa: E402, F401  (registers remind, assign, my-work, set-due, away, set-email)


def main() -> None:
    cli(prog_name="python -m review")
