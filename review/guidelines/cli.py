"""`check`: lint copy files against a brand's guidelines from a content pipeline (Vale-style output)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from .errors import GuidelineLoadError
from .findings import SCOPES, Finding
from .loader import load_ruleset


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# A brand is a folder name, never a path: no separator, no "..", no leading "." or "_" (shared bases).
BRAND_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def _has_rule_files(directory: Path) -> bool:
    return any((directory / "rules").glob("*.y*ml")) or (directory / "vocab" / "reject.txt").is_file()


def _default_dir() -> str:
    from review.config import settings

    return str(settings().guidelines_dir)


@click.command("check")
@click.option("--brand", required=True, help="Brand folder name, e.g. harbor-mutual.")
@click.option(
    "--guidelines-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding the brand folders (default: $COUNTERSIGN_GUIDELINES_DIR or ./brand_guidelines).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--scope", type=click.Choice(SCOPES), default="message", show_default=True, help="What the files are.")
@click.option("--complete/--fragment", default=False, help="--complete: files are whole messages, so required texts (disclaimers) must be present.")
@click.argument("files", nargs=-1, type=click.Path(allow_dash=True))
def check_command(brand: str, guidelines_dir: Path | None, fmt: str, scope: str, complete: bool, files: tuple[str, ...]) -> None:
    """Check FILES (or stdin: '-' or none) against a brand's guidelines.

    Exit status: 0 no errors, 1 an error-level finding, 2 the brand is not a brand name, has no
    rules, or its guidelines could not be loaded.
    """
    root = guidelines_dir or Path(_default_dir())
    if not BRAND_NAME.fullmatch(brand):
        click.echo(f"--brand takes a brand name (a folder under {root}), not a path: {brand!r}", err=True)
        sys.exit(2)
    if not (root / brand).is_dir():
        known = sorted(p.name for p in root.iterdir() if p.is_dir() and BRAND_NAME.fullmatch(p.name)) if root.is_dir() else []
        click.echo(f"no brand '{brand}' in {root} (brands: {', '.join(known) or 'none'})", err=True)
        sys.exit(2)
    try:
        rules = load_ruleset(root / brand)
    except GuidelineLoadError as e:
        for err in e.errors:
            click.echo(str(err), err=True)
        sys.exit(2)
    if not _has_rule_files(root / brand) and not _has_rule_files(root / "_base"):
        # Checking against nothing would pass anything: that is a mistake, not a clean result.
        click.echo(f"brand '{brand}' in {root} has no rules (no rules/*.yaml, no vocab/reject.txt): nothing to check against", err=True)
        sys.exit(2)
    results: list[tuple[str, str, list[Finding]]] = []
    for name in files or ("-",):
        if name == "-":
            text, shown = sys.stdin.read(), "<stdin>"
        else:
            try:
                text, shown = Path(name).read_text(encoding="utf-8-sig"), name
            except (OSError, UnicodeDecodeError) as e:
                click.echo(f"{name}: cannot read: {e}", err=True)
                sys.exit(2)
        results.append((shown, text, rules.check_text(text, scope, complete=complete)))
    errors = 0
    if fmt == "json":
        out = []
        for shown, text, findings in results:
            for f in findings:
                line, col = line_col(text, f.span[0]) if f.span else (1, 1)
                out.append({"file": shown, "line": line, "column": col, **f.to_dict()})
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    for shown, text, findings in results:
        for f in findings:
            errors += f.level == "error"
            if fmt == "text":
                line, col = line_col(text, f.span[0]) if f.span else (1, 1)
                click.echo(f"{shown}:{line}:{col} {f.level} {f.rule} {f.message}")
    sys.exit(1 if errors else 0)
