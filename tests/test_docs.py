"""The README documents every command and the two set-up commands match the Makefile and CI."""

from __future__ import annotations

import re
from pathlib import Path

from review.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_cli_command_is_in_the_readme() -> None:
    missing = [name for name in cli.commands if f"python -m review {name}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_readme_commands_exist_in_makefile_and_ci_runs_the_test_command() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_screenshot_exists() -> None:
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / link).is_file(), link


def test_every_environment_variable_is_in_the_readme() -> None:
    used = set()
    for path in [*(ROOT / "review").rglob("*.py"), *(ROOT / "ui").rglob("*.py"), ROOT / "app.py"]:
        used |= set(re.findall(r"COUNTERSIGN_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    missing = sorted(v for v in used if f"`{v}`" not in README)
    assert not missing, f"undocumented settings: {missing}"


def test_only_config_reads_the_environment() -> None:
    """Every setting goes through review/config.py, so one module shows them all with defaults."""
    readers = []
    for path in [*(ROOT / "review").rglob("*.py"), *(ROOT / "ui").rglob("*.py"), ROOT / "app.py"]:
        if path == ROOT / "review" / "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ|os\.getenv|getenv\(", text):
            readers.append(str(path.relative_to(ROOT)))
    assert not readers, f"read settings through review.config, not the environment: {readers}"
