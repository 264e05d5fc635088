"""Migrations: ordered, recorded, never re-run, and an upgrade keeps the data."""

from __future__ import annotations

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
