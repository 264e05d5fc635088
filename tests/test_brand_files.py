"""brand.yaml is the single source of a brand: the database holds only its identity, so an
edited file, a new folder and a removed one are seen without re-seeding, and a broken file
reads the same wherever it is met."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from review.brands import list_brands, policy_for
from review.checks import brand_rules
from review.cli import cli
from review.dashboard import queue_filter_options
from review.errors import ConfigError
from review.guidelines import GuidelineLoadError, load_ruleset
from review.models import AuditEvent, Brand
from review.template_versions import save_template

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def brands_world(tmp_path, monkeypatch, build_world):  # type: ignore[no-untyped-def]
    root = tmp_path / "brands"
    shutil.copytree(FIXTURES / "brands", root)
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root))
    return build_world(), root


def test_an_edited_brand_name_is_shown_without_reseeding(brands_world) -> None:  # type: ignore[no-untyped-def]
    w, root = brands_world
    brand = w.session.exec(select(Brand).where(Brand.slug == "acme-pharma")).one()
    assert queue_filter_options(w.session, w.reviewer)[0] == {brand.id: "Acme Pharma"}
    path = root / "acme-pharma" / "brand.yaml"
    path.write_text(path.read_text().replace("name: Acme Pharma", "name: Acme Pharma Europe"), encoding="utf-8")
    assert queue_filter_options(w.session, w.reviewer)[0] == {brand.id: "Acme Pharma Europe"}
    assert brand.name == "Acme Pharma Europe" and brand_rules("acme-pharma")[1].name == "Acme Pharma Europe"


def test_a_new_brand_folder_works_without_reseeding(brands_world) -> None:  # type: ignore[no-untyped-def]
    w, root = brands_world
    shutil.copytree(root / "acme-pharma", root / "zenith-health")
    path = root / "zenith-health" / "brand.yaml"
    path.write_text(path.read_text().replace("name: Acme Pharma", "name: Zenith Health"), encoding="utf-8")
    tv = save_template(w.session, w.marketer, brand_slug="zenith-health", source=(FIXTURES / "templates" / "acme-newsletter.j2").read_text())
    w.session.commit()
    brand = w.session.exec(select(Brand).where(Brand.slug == "zenith-health")).one()
    assert tv.id is not None and brand.name == "Zenith Health"
    assert [p.name for _, p in list_brands(w.session)] == ["Acme Pharma", "Zenith Health"]
    registered = w.session.exec(select(AuditEvent).where(AuditEvent.action == "brand_registered")).all()
    assert [e.after["slug"] for e in registered] == ["acme-pharma", "zenith-health"]


def test_a_brand_whose_folder_disappeared_is_named(brands_world) -> None:  # type: ignore[no-untyped-def]
    w, root = brands_world
    brand = w.session.exec(select(Brand).where(Brand.slug == "acme-pharma")).one()
    (root / "acme-pharma").rename(root / "acme-pharma-old")
    with pytest.raises(ConfigError, match=f"brand 'acme-pharma': its folder {root / 'acme-pharma'} is missing"):
        policy_for(brand)
    with pytest.raises(ConfigError, match="its folder .* is missing"):
        brand_rules("acme-pharma")


def test_a_bad_brand_yaml_reads_the_same_in_the_app_the_cli_check_and_the_loader(brands_world) -> None:  # type: ignore[no-untyped-def]
    w, root = brands_world
    path = root / "acme-pharma" / "brand.yaml"
    path.write_text(path.read_text().replace("approvals_required: 2", "approvals_required: 9"), encoding="utf-8")
    expected = f"{path}:3: 'approvals_required' must be a whole number from 1 to 5"

    with pytest.raises(ConfigError) as app:  # what a page shows: the service's error
        save_template(w.session, w.marketer, brand_slug="acme-pharma", source=(FIXTURES / "templates" / "acme-newsletter.j2").read_text())
    with pytest.raises(ConfigError) as checks:
        brand_rules("acme-pharma")
    with pytest.raises(GuidelineLoadError) as loader:
        load_ruleset(root / "acme-pharma")
    cli_check = CliRunner().invoke(cli, ["check", "--brand", "acme-pharma", "--guidelines-dir", str(root), "-"], input="Hello")

    assert str(app.value) == str(checks.value) == expected
    assert [str(e) for e in loader.value.errors] == [expected]
    assert cli_check.exit_code == 2 and cli_check.output.strip() == expected
