"""Helpers for testing rules and rule types: build a throwaway brand folder from YAML snippets."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from .context import CheckContext
from .findings import Finding
from .loader import load_ruleset
from .ruleset import RuleSet

REPO = Path(__file__).resolve().parents[2]  # the checkout root
GUIDELINES = REPO / "brand_guidelines"


def brand(tmp_path: Path, files: dict[str, str], name: str = "acme") -> RuleSet:
    """Write `files` (relative path -> text) under tmp_path/name and load it without any _base."""
    root = tmp_path / name
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    return load_ruleset(root)


def one_rule(tmp_path: Path, yaml_text: str, extra: dict[str, str] | None = None) -> RuleSet:
    return brand(tmp_path, {"rules/r.yaml": yaml_text, **(extra or {})})


def hits(rs: RuleSet, text: str, scope: str = "message", rule: str = "acme.r") -> list[Finding]:
    return [f for f in rs.check_text(text, scope, complete=True) if f.rule == rule]


def matches(rs: RuleSet, text: str, scope: str = "message", rule: str = "acme.r") -> list[str]:
    return [f.match for f in hits(rs, text, scope, rule)]


def ctx(message: str = "", **kw: Any) -> CheckContext:
    return CheckContext(message=message, **kw)


def check(rs: RuleSet, c: CheckContext, rule: str = "acme.r") -> list[Finding]:
    return [f for f in rs.check(c) if f.rule == rule]
