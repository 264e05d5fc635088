"""`python -m review record` and `python -m review verify-record`: the examiner's record.

Registered on the command group by one import at the end of review/cli.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli import _engine, cli, friendly


@cli.command("record")
@click.argument("campaign_id", type=int)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder to write the record into (default: <data dir>/records)."
)
@friendly
def record_cmd(campaign_id: int, out_dir: Path | None) -> None:
    """Write the examiner's record of a published campaign: one archive, verifiable offline."""
    from .db import session_scope
    from .record import write_record

    with session_scope(_engine()) as s:
        result = write_record(s, campaign_id, out_dir)
    click.echo(f"record of campaign {campaign_id} written to {result.path} ({result.members} members, {result.size} bytes)")
    click.echo(f"record digest (SHA-256 of index.json): {result.digest}")
    for note in result.notes:
        click.echo(f"note: {note}")


@cli.command("verify-record")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--digest", "expected_digest", default=None, help="The record digest you were given separately: it must match.")
@click.option(
    "--checkpoint",
    "checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An audit checkpoint file kept outside the database: checkpoints within the record's chain proof must lie on it.",
)
@friendly
def verify_record_cmd(file: Path, expected_digest: str | None, checkpoint: Path | None) -> None:
    """Check a record offline (no database): bytes, index, digest, audit chain, signatures, exports.

    Exits 0 only when every check passes; otherwise 1, naming each failure."""
    from .audit import read_checkpoints
    from .record_verify import verify_record

    checkpoints = read_checkpoints(checkpoint) if checkpoint is not None else None
    report = verify_record(file.read_bytes(), expected_digest=expected_digest, checkpoints=checkpoints)
    click.echo(f"{file}:")
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)
