"""Engine factory and migrations.

Migrations are a short ordered list of named functions. Each runs once, inside a
transaction, and is recorded in `schema_migrations`, so an upgrade never re-runs one and
never loses data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from . import models  # noqa: F401  (registers the tables)
from .config import settings
from .errors import Refusal

log = logging.getLogger(__name__)


def make_engine(url: str | None = None) -> Engine:
    url = url or settings().database_url
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        else:
            path = url.split("///", 1)[-1]
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets the Streamlit app read while a generation job writes; busy_timeout
            # makes a writer wait for the lock instead of failing at once.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


# ------------------------------------------------------------------------- migrations

INITIAL_TABLES = [
    "user",
    "brand",
    "template",
    "templateversion",
    "audience",
    "recipient",
    "campaign",
    "variant",
    "campaignrecipient",
    "draft",
    "draftrevision",
    "approval",
    "comment",
    "auditevent",
    "audithead",
    "export",
    "generationjob",
    "fillcache",
]


def m001_initial(conn: Connection) -> None:
    tables = [SQLModel.metadata.tables[name] for name in INITIAL_TABLES]
    SQLModel.metadata.create_all(conn, tables=tables)


def m002_review_indexes(conn: Connection) -> None:
    # The review queue sorts and filters by these; without them a 10k-draft queue scans.
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_draft_queue ON draft (status, error_count, warning_count, updated_at)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_approval_draft_valid ON approval (draft_id, valid)"))


def m003_audit_actor_index(conn: Connection) -> None:
    # Every sign-in reads the name's recent failed attempts (review.auth.lockout).
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_auditevent_actor_action ON auditevent (actor, action, seq)"))


def m004_audit_macs(conn: Connection) -> None:
    """Key the audit chain: a MAC per event and on the head, under a key kept outside the database.

    Events written before this migration are sealed now with the current key: from here on,
    rewriting any of them without the key is detected (what happened to them before cannot be
    told, and the README says so).
    """
    from . import audit

    for table in ("auditevent", "audithead"):
        if "mac" not in {c["name"] for c in inspect(conn).get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN mac VARCHAR NOT NULL DEFAULT ''"))
    rows = conn.execute(text("SELECT id, hash FROM auditevent WHERE mac = '' ORDER BY seq")).all()
    if not rows and not conn.execute(text("SELECT 1 FROM audithead WHERE mac = '' AND seq > 0")).first():
        return
    key = audit.audit_key()
    assert key is not None
    for row_id, h in rows:
        conn.execute(text("UPDATE auditevent SET mac = :m WHERE id = :i"), {"m": audit.event_mac(key, h), "i": row_id})
    for seq, h in conn.execute(text("SELECT seq, hash FROM audithead WHERE id = 1")).all():
        conn.execute(text("UPDATE audithead SET mac = :m WHERE id = 1"), {"m": audit.head_mac(key, seq, h)})


def m006_brand_policy_from_file(conn: Connection) -> None:
    """brand.yaml is the single source of who must approve: drop the database's stale copy."""
    if "approvals_required" in {c["name"] for c in inspect(conn).get_columns("brand")}:
        conn.execute(text("ALTER TABLE brand DROP COLUMN approvals_required"))


def m007_export_held_back(conn: Connection) -> None:
    """Exports record the recipients held back by their own field values."""
    have = {c["name"] for c in inspect(conn).get_columns("export")}
    if "held_back" not in have:
        conn.execute(text("ALTER TABLE export ADD COLUMN held_back INTEGER NOT NULL DEFAULT 0"))
    if "held_path" not in have:
        conn.execute(text("ALTER TABLE export ADD COLUMN held_path VARCHAR NOT NULL DEFAULT ''"))


def m005_audience_brand(conn: Connection) -> None:
    # Audiences are bound to the brand whose fields they were checked against. A database made
    # by m001 from today's models already has the column; an older one gains it (nullable, so
    # every existing row stays). Existing audiences are bound where that is no guess: to the one
    # brand their campaigns share, or to the only brand there is. The rest keep NULL and must be
    # imported again before a new campaign can use them (review.campaigns says so).
    if "brand_id" not in {c["name"] for c in inspect(conn).get_columns("audience")}:
        conn.execute(text("ALTER TABLE audience ADD COLUMN brand_id INTEGER REFERENCES brand (id)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_audience_brand_id ON audience (brand_id)"))
    conn.execute(
        text(
            "UPDATE audience SET brand_id = (SELECT MIN(c.brand_id) FROM campaign c WHERE c.audience_id = audience.id) "
            "WHERE brand_id IS NULL AND (SELECT COUNT(DISTINCT c.brand_id) FROM campaign c WHERE c.audience_id = audience.id) = 1"
        )
    )
    if conn.execute(text("SELECT COUNT(*) FROM brand")).scalar_one() == 1:
        conn.execute(text("UPDATE audience SET brand_id = (SELECT MIN(id) FROM brand) WHERE brand_id IS NULL"))


def m008_brand_identity_only(conn: Connection) -> None:
    """brand.yaml is the single source of a brand's name and industry: the database keeps only
    the identity foreign keys need (id, slug). An edited brand.yaml is seen without re-seeding."""
    have = {c["name"] for c in inspect(conn).get_columns("brand")}
    for column in ("name", "industry"):
        if column in have:
            conn.execute(text(f"ALTER TABLE brand DROP COLUMN {column}"))


def m009_review_steps(conn: Connection) -> None:
    """Routed review steps: each signature records the step it satisfies (signatures given
    before steps satisfied the one-step plan, named "review"), and reviewers hold review roles."""
    if "step" not in {c["name"] for c in inspect(conn).get_columns("approval")}:
        conn.execute(text("ALTER TABLE approval ADD COLUMN step VARCHAR NOT NULL DEFAULT 'review'"))
    SQLModel.metadata.create_all(conn, tables=[SQLModel.metadata.tables["userreviewrole"]])


def m010_assignments_notifications(conn: Connection) -> None:
    """Due dates on campaigns, email addresses on users, and the tables for review assignments,
    absences and notifications (issue 14). Existing rows keep NULL: no due date, no email."""
    for table, column, ddl in (("campaign", "due_at", "TIMESTAMP"), ("user", "email", "VARCHAR")):
        if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
            conn.execute(text(f'ALTER TABLE "{table}" ADD COLUMN {column} {ddl}'))
    names = ["assignment", "absence", "notification"]
    SQLModel.metadata.create_all(conn, tables=[SQLModel.metadata.tables[n] for n in names])


def m011_annotations(conn: Connection) -> None:
    """Span annotations on drafts and their threads (review.annotations)."""
    SQLModel.metadata.create_all(conn, tables=[SQLModel.metadata.tables[name] for name in ("annotation", "annotationreply")])


def m012_approval_expiry_and_recalls(conn: Connection) -> None:
    """Approvals expire (draft.approved_at, review.expiry) and withdrawals write recalls (the recall
    table, review.recalls). Drafts approved or published before this migration get the time of
    their latest `draft_approved` audit event, so their approvals age from when they were given."""
    if "approved_at" not in {c["name"] for c in inspect(conn).get_columns("draft")}:
        kind = DateTime(timezone=True).compile(dialect=conn.dialect)  # what the model's UTC datetimes are
        conn.execute(text(f"ALTER TABLE draft ADD COLUMN approved_at {kind}"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_draft_approved_at ON draft (approved_at)"))
    conn.execute(
        text(
            "UPDATE draft SET approved_at = (SELECT MAX(e.ts) FROM auditevent e WHERE e.entity = 'draft' AND e.action = 'draft_approved' "
            "AND e.entity_id = CAST(draft.id AS VARCHAR)) WHERE approved_at IS NULL AND status IN ('approved', 'published')"
        )
    )
    SQLModel.metadata.create_all(conn, tables=[SQLModel.metadata.tables["recall"]])


def m013_api_tokens_webhooks(conn: Connection) -> None:
    """The API for sending systems: scoped API tokens, webhook endpoints, queued deliveries and
    their attempts (review/models/api.py). New tables only; nothing existing changes."""
    names = ["apitoken", "webhookendpoint", "webhookdelivery", "webhookattempt"]
    SQLModel.metadata.create_all(conn, tables=[SQLModel.metadata.tables[n] for n in names])


def m014_generation_queue(conn: Connection) -> None:
    """Team mode: jobs count their redone chunks; on PostgreSQL the job queue's own tables
    (procrastinate's schema, at the version installed) live beside ours, in the same schema."""
    if "chunks_redone" not in {c["name"] for c in inspect(conn).get_columns("generationjob")}:
        conn.execute(text("ALTER TABLE generationjob ADD COLUMN chunks_redone INTEGER NOT NULL DEFAULT 0"))
    if conn.dialect.name == "postgresql" and conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
        from procrastinate.schema import SchemaManager

        conn.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))  # the driver reads % as a placeholder


def m015_company_sign_in(conn: Connection) -> None:
    """Company sign-in (review.sso): users linked to an identity provider's (issuer, subject),
    unique together, and their signing password. Existing users keep NULL: local accounts."""
    have = {c["name"] for c in inspect(conn).get_columns("user")}
    for column in ("oidc_issuer", "oidc_subject", "signing_password_hash"):
        if column not in have:
            conn.execute(text(f'ALTER TABLE "user" ADD COLUMN {column} VARCHAR'))
    conn.execute(text('CREATE UNIQUE INDEX IF NOT EXISTS ux_user_oidc ON "user" (oidc_issuer, oidc_subject)'))


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("m001_initial", m001_initial),
    ("m002_review_indexes", m002_review_indexes),
    ("m003_audit_actor_index", m003_audit_actor_index),
    ("m004_audit_macs", m004_audit_macs),
    ("m005_audience_brand", m005_audience_brand),
    ("m006_brand_policy_from_file", m006_brand_policy_from_file),
    ("m007_export_held_back", m007_export_held_back),
    ("m008_brand_identity_only", m008_brand_identity_only),
    ("m009_review_steps", m009_review_steps),
    ("m010_assignments_notifications", m010_assignments_notifications),
    ("m011_annotations", m011_annotations),
    ("m012_approval_expiry_and_recalls", m012_approval_expiry_and_recalls),
    ("m013_api_tokens_webhooks", m013_api_tokens_webhooks),
    ("m014_generation_queue", m014_generation_queue),
    ("m015_company_sign_in", m015_company_sign_in),
]


def applied_migrations(engine: Engine) -> list[str]:
    if not inspect(engine).has_table("schema_migrations"):
        return []
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT name FROM schema_migrations ORDER BY name"))]


def migrate(engine: Engine) -> list[str]:
    """Apply pending migrations in order; return the names applied."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(200) PRIMARY KEY, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"))
    done = set(applied_migrations(engine))
    ran: list[str] = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with engine.begin() as conn:
            fn(conn)
            conn.execute(text("INSERT INTO schema_migrations (name) VALUES (:n)"), {"n": name})
        ran.append(name)
    return ran


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    A security refusal that names its actor (errors.Refusal) is then recorded in the audit trail
    in a transaction of its own: the refused work is gone, the attempt is not.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Refusal as exc:
            session.rollback()
            record_refusal(engine, exc)
            raise
        except BaseException:
            session.rollback()
            raise


def after_outcome(session: Session, *, committed: Callable[[], None] | None = None, rolled_back: Callable[[], None] | None = None) -> None:
    """Run `committed` if the session's current transaction commits, `rolled_back` if it rolls
    back or the session closes without committing: exactly one of them, once (work outside the
    database that must follow its outcome).

    Both run when the transaction has fully ended, so the session is usable again: an exception
    `committed` raises reaches the caller of `commit()` (the database change stands, and the
    caller must hear that the rest failed), and session_scope's rollback does not mask it."""
    state = {"committed": False, "done": False}

    def on_commit(_session: Session) -> None:
        state["committed"] = True

    def on_end(_session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is not None or state["done"]:
            return  # a savepoint ended, or the outcome was already handled
        state["done"] = True
        fn = committed if state["committed"] else rolled_back
        if fn is not None:
            fn()

    event.listen(session, "after_commit", on_commit, once=True)
    event.listen(session, "after_transaction_end", on_end)


def record_refusal(engine: Engine, exc: Refusal) -> None:
    """Append a `refused` audit event for `exc` if it names its actor; a failure here is logged,
    never raised over `exc`."""
    from review import audit

    if not exc.actor:
        return
    try:
        with Session(engine, expire_on_commit=False) as s:
            after = {"refusal": type(exc).__name__, "code": exc.code, "attempted": exc.attempted, "reason": str(exc)}
            audit.append(s, actor=str(exc.actor), action="refused", entity=exc.entity or "request", entity_id=exc.entity_id or "", after=after)
            s.commit()
    except Exception:  # noqa: BLE001 - the user must still see the refusal itself
        log.exception("could not record a refusal in the audit trail")
