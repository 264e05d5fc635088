"""The command line: each command works, and each failure is one line with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from review.cli import cli

ROOT = Path(__file__).parent.parent


@pytest.fixture
def run(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(ROOT / "brand_guidelines"))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(ROOT / "templates"))
    runner = CliRunner()

    def invoke(*args: str, password: str | None = None):  # type: ignore[no-untyped-def]
        env = {"COUNTERSIGN_PASSWORD": password} if password else {}
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_init_db_is_idempotent(run) -> None:  # type: ignore[no-untyped-def]
    first = run("init-db")
    assert first.exit_code == 0 and "m001_initial" in first.output
    again = run("init-db")
    assert again.exit_code == 0 and "none pending" in again.output


def test_seed_demo_without_model_then_queue_and_audit(run) -> None:  # type: ignore[no-untyped-def]
    out = run("seed-demo", "--no-generate")
    assert out.exit_code == 0, out.output
    assert "audience 200 rows" in out.output
    again = run("seed-demo", "--no-generate")  # idempotent
    assert again.exit_code == 0
    q = run("list-queue")
    assert q.exit_code == 0 and "0 draft(s)" in q.output
    v = run("verify-audit")
    assert v.exit_code == 0 and "audit chain OK" in v.output


def test_bad_csv_is_one_line_and_non_zero(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run("seed-demo", "--no-generate")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,first_name,personalization_consent\n1,Ana,perhaps\n")
    out = run("import-audience", "Bad list", str(bad), "--brand", "harbor-mutual", "--as", "maria", password="maria-demo-pass")
    assert out.exit_code == 1
    assert "line 2: personalization_consent must be" in out.output
    assert "Traceback" not in out.output


def test_wrong_password_and_wrong_role(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run("seed-demo", "--no-generate")
    good = tmp_path / "good.csv"
    good.write_text("id,first_name,personalization_consent\n1,Ana,yes\n")
    out = run("import-audience", "L", str(good), "--brand", "harbor-mutual", "--as", "maria", password="nope")
    assert out.exit_code == 1 and "Wrong username or password" in out.output
    out = run("import-audience", "L", str(good), "--brand", "harbor-mutual", "--as", "rita", password="rita-demo-pass")
    assert out.exit_code == 1 and "needs the marketer or admin role" in out.output


def test_import_audience_names_the_brand_and_the_dropped_columns(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run("seed-demo", "--no-generate")
    f = tmp_path / "l.csv"
    f.write_text("id,first_name,religion,personalization_consent\n1,Ana,x,yes\n")
    out = run("import-audience", "L", str(f), "--brand", "harbor-mutual", "--as", "maria", password="maria-demo-pass")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-2:] == [
        "audience 2: 1 recipients, 1 with personalization consent",
        "column 'religion' dropped (sensitive for Harbor Mutual: never stored)",
    ]
    out = run("import-audience", "M", str(f), "--as", "maria", password="maria-demo-pass")
    assert out.exit_code == 2 and "Missing option '--brand'" in out.output


def test_export_refused_until_approved(run) -> None:  # type: ignore[no-untyped-def]
    run("seed-demo", "--no-generate")
    out = run("export", "1", "--as", "maria", password="maria-demo-pass")
    assert out.exit_code == 1 and "cannot be published" in out.output


def test_broken_template_names_its_line(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run("seed-demo", "--no-generate")
    src = (ROOT / "templates" / "harbor-mutual" / "home-welcome.j2").read_text().replace("{{ slots.welcome }}", "{{ slots.welcome }")
    bad = tmp_path / "broken.j2"
    bad.write_text(src)
    out = run("save-template", "harbor-mutual", str(bad), "--as", "maria", password="maria-demo-pass")
    assert out.exit_code == 1
    assert f"{bad}, line 18: template syntax error" in out.output


def test_non_utf8_template_is_one_line(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run("seed-demo", "--no-generate")
    bad = tmp_path / "latin.j2"
    bad.write_bytes((ROOT / "templates" / "harbor-mutual" / "home-welcome.j2").read_text().replace("Hello", "H\u00e9llo").encode("latin-1"))
    out = run("save-template", "harbor-mutual", str(bad), "--as", "maria", password="maria-demo-pass")
    assert out.exit_code == 1
    assert f"{bad}, line 16: not UTF-8 text" in out.output and "Traceback" not in out.output


def test_verify_audit_reports_tampering(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    run("seed-demo", "--no-generate")
    con = sqlite3.connect(tmp_path / "cli.db")
    con.execute("UPDATE auditevent SET actor='mallory' WHERE seq=4")
    con.commit()
    con.close()
    out = run("verify-audit")
    assert out.exit_code == 1 and "BROKEN at event #4" in out.output
