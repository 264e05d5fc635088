"""Migrations: ordered, recorded, never re-run, and an upgrade keeps the data."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from review import db


def test_upgrade_from_first_migration_keeps_data(engine: Engine) -> None:
    # `engine` is fully migrated; simulate an old database by forgetting the later steps.
    with engine.begin() as c:
        c.execute(text("DROP INDEX IF EXISTS ix_draft_queue"))
        c.execute(text("DROP INDEX IF EXISTS ix_approval_draft_valid"))
        c.execute(text("DELETE FROM schema_migrations WHERE name <> 'm001_initial'"))
        c.execute(
            text(
                'INSERT INTO "user" (username, full_name, role, password_hash, active, created_at) '
                "VALUES ('old', 'Old Timer', 'admin', 'x', true, CURRENT_TIMESTAMP)"
            )
        )
    assert db.applied_migrations(engine) == ["m001_initial"]
    ran = db.migrate(engine)
    assert ran == [name for name, _ in db.MIGRATIONS[1:]]
    assert db.migrate(engine) == []  # recorded: never re-run
    with engine.connect() as c:
        assert c.execute(text("SELECT full_name FROM \"user\" WHERE username = 'old'")).scalar_one() == "Old Timer"
    assert "ix_draft_queue" in {ix["name"] for ix in inspect(engine).get_indexes("draft")}


def test_sqlite_file_uses_wal_and_a_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert c.execute(text("PRAGMA busy_timeout")).scalar_one() == 30000
        assert c.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_m005_binds_existing_audiences_to_a_brand_without_losing_them(engine: Engine) -> None:
    """An audience table from before m005 (no brand_id) gains the column; rows stay, and are
    bound to the one brand there is."""
    cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
    with engine.begin() as c:  # the audience table as m001 made it before brand_id existed
        c.execute(text(f"DROP TABLE audience{cascade}"))
        c.execute(
            text(
                "CREATE TABLE audience (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, fields JSON, row_count INTEGER NOT NULL, "
                'consent_count INTEGER NOT NULL, source_sha256 VARCHAR NOT NULL, created_by INTEGER NOT NULL REFERENCES "user" (id), '
                "created_at TIMESTAMP NOT NULL)"
            )
        )
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm005_audience_brand'"))
        c.execute(
            text(
                'INSERT INTO "user" (username, full_name, role, password_hash, active, created_at) '
                "VALUES ('old', 'Old Timer', 'admin', 'x', true, CURRENT_TIMESTAMP)"
            )
        )
        c.execute(text("INSERT INTO brand (slug, created_at) VALUES ('acme', CURRENT_TIMESTAMP)"))
        c.execute(
            text(
                "INSERT INTO audience (id, name, fields, row_count, consent_count, source_sha256, created_by, created_at) "
                "VALUES (1, 'old list', '[\"first_name\"]', 1, 1, 'abc', (SELECT id FROM \"user\"), CURRENT_TIMESTAMP)"
            )
        )
    assert "brand_id" not in {col["name"] for col in inspect(engine).get_columns("audience")}
    assert db.migrate(engine) == ["m005_audience_brand"]
    with engine.connect() as c:
        row = c.execute(text("SELECT a.name, a.row_count, b.slug FROM audience a JOIN brand b ON b.id = a.brand_id")).one()
    assert tuple(row) == ("old list", 1, "acme")
    assert "ix_audience_brand_id" in {ix["name"] for ix in inspect(engine).get_indexes("audience")}


def test_m008_keeps_only_the_brand_identity_and_the_rows(engine: Engine) -> None:
    """A brand table from before m008 mirrored name and industry from brand.yaml; the upgrade
    drops the copies, keeps every row and the foreign keys to it, and the name comes from the file."""
    from sqlmodel import Session, select

    from review.models import Brand

    with engine.begin() as c:  # the brand table as it was: name and industry copied from the file
        c.execute(text("ALTER TABLE brand ADD COLUMN name VARCHAR NOT NULL DEFAULT ''"))
        c.execute(text("ALTER TABLE brand ADD COLUMN industry VARCHAR NOT NULL DEFAULT ''"))
        c.execute(text("INSERT INTO brand (slug, name, industry, created_at) VALUES ('acme-pharma', 'Stale Name', 'x', CURRENT_TIMESTAMP)"))
        c.execute(
            text(
                'INSERT INTO "user" (username, full_name, role, password_hash, active, created_at) '
                "VALUES ('old', 'Old Timer', 'admin', 'x', true, CURRENT_TIMESTAMP)"
            )
        )
        c.execute(text("INSERT INTO template (brand_id, name, created_by, created_at) SELECT b.id, 'old', u.id, CURRENT_TIMESTAMP FROM brand b, \"user\" u"))
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm008_brand_identity_only'"))
    assert db.migrate(engine) == ["m008_brand_identity_only"]
    assert {c["name"] for c in inspect(engine).get_columns("brand")} == {"id", "slug", "created_at"}
    with engine.connect() as c:
        assert c.execute(text("SELECT b.slug FROM template t JOIN brand b ON b.id = t.brand_id")).scalar_one() == "acme-pharma"
    with Session(engine) as s:
        brand = s.exec(select(Brand)).one()
        assert brand.name == "Acme Pharma"  # tests/fixtures/brands/acme-pharma/brand.yaml, not the stale copy


def test_after_outcome_runs_exactly_one_side_once_and_a_failing_commit_side_is_raised(engine: Engine) -> None:
    from sqlmodel import Session

    seen: list[str] = []

    def on(tag: str):  # type: ignore[no-untyped-def]
        return lambda: seen.append(tag)

    with Session(engine) as s:
        s.execute(text("SELECT 1"))
        db.after_outcome(s, committed=on("committed"), rolled_back=on("rolled back"))
        s.commit()
        s.rollback()  # a later outcome is not this transaction's
        s.execute(text("SELECT 1"))
        db.after_outcome(s, committed=on("committed 2"), rolled_back=on("rolled back 2"))
        s.rollback()
        s.execute(text("SELECT 1"))
        db.after_outcome(s, committed=on("committed 3"), rolled_back=on("closed 3"))
    assert seen == ["committed", "rolled back 2", "closed 3"]  # closing without a commit counts as a rollback

    def fail() -> None:
        raise OSError("disk full")

    with Session(engine) as s:
        s.execute(text("SELECT 1"))
        db.after_outcome(s, committed=fail)
        with pytest.raises(OSError, match="disk full"):
            s.commit()
        s.rollback()  # the session is usable again: session_scope's rollback does not mask the error
        assert s.execute(text("SELECT 1")).scalar_one() == 1


def test_m015_adds_company_sign_in_to_an_older_database_keeping_its_users(engine: Engine) -> None:
    # An older database: users without the columns company sign-in added, m015 not yet applied.
    with engine.begin() as c:
        c.execute(text("DROP INDEX IF EXISTS ux_user_oidc"))
        for column in ("oidc_issuer", "oidc_subject", "signing_password_hash"):
            c.execute(text(f'ALTER TABLE "user" DROP COLUMN {column}'))
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm015_company_sign_in'"))
        c.execute(
            text(
                'INSERT INTO "user" (username, full_name, role, password_hash, active, created_at) '
                "VALUES ('old', 'Old Timer', 'reviewer', 'x', true, CURRENT_TIMESTAMP)"
            )
        )
    assert "oidc_subject" not in {c["name"] for c in inspect(engine).get_columns("user")}
    assert db.migrate(engine) == ["m015_company_sign_in"]
    assert {"oidc_issuer", "oidc_subject", "signing_password_hash"} <= {c["name"] for c in inspect(engine).get_columns("user")}
    assert "ux_user_oidc" in {ix["name"] for ix in inspect(engine).get_indexes("user")}
    with engine.connect() as c:
        row = c.execute(text("SELECT full_name, oidc_issuer, oidc_subject, signing_password_hash FROM \"user\" WHERE username = 'old'")).one()
    assert tuple(row) == ("Old Timer", None, None, None)  # a local account, as before
