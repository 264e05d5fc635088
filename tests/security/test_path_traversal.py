"""`check --brand` takes a brand name, never a path: separators, absolute paths and '..' exit 2
with a message, and a brand with no rules is an error, not a clean pass."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from review.guidelines.cli import check_command
from review.guidelines.testing import GUIDELINES

TRAVERSAL = [
    "harbor-mutual/rules",
    "harbor-mutual/../northbank",
    "/etc",
    "/",
    ".",
    "..",
    "../..",
    "../brand_guidelines/harbor-mutual",
    "..\\..\\windows",
    "harbor-mutual\\rules",
    "harbor-mutual\x00",
    "_base",
    ".hidden",
    "~",
    "~root",
    "%2e%2e",
    " harbor-mutual",
    "",
    "harbor-mutual/",
    "a" * 300,
]


def run(*args: str, input: str = "It is risk-free!"):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(check_command, list(args), input=input)


@pytest.mark.parametrize("name", TRAVERSAL)
def test_a_path_is_not_a_brand(name: str) -> None:
    r = run("--brand", name, "--guidelines-dir", str(GUIDELINES), "-")
    assert r.exit_code == 2, r.output
    assert "--brand takes a brand name" in r.output
    assert isinstance(r.exception, SystemExit)  # a clean exit, never a traceback


def test_an_unknown_brand_lists_the_brands() -> None:
    r = run("--brand", "nope", "--guidelines-dir", str(GUIDELINES), "-")
    assert r.exit_code == 2
    assert r.output.strip() == f"no brand 'nope' in {GUIDELINES} (brands: harbor-mutual, northbank, vitalis-pharma)"


def test_a_brand_with_no_rules_is_an_error_not_a_pass(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "brand.yaml").write_text("name: Empty\n")
    (tmp_path / "bare").mkdir()
    for brand in ("empty", "bare"):
        r = run("--brand", brand, "--guidelines-dir", str(tmp_path), "-")
        assert r.exit_code == 2, r.output
        assert f"brand '{brand}' in {tmp_path} has no rules" in r.output


def test_a_real_brand_still_checks() -> None:
    r = run("--brand", "harbor-mutual", "--guidelines-dir", str(GUIDELINES), "-")
    assert r.exit_code == 1 and "risk-free" in r.output
