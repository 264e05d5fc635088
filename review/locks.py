"""Row locks for decisions: two people clicking at once get one outcome.

Every service that decides about a draft or a campaign first takes its lock, then re-reads
what it decides on. The second of two racing requests waits for the first to commit, then
sees the first one's result and refuses with a clear message instead of overriding it.

- PostgreSQL: `SELECT ... FOR UPDATE` on the rows, always in ascending id order so two
  services locking several rows can never deadlock each other.
- SQLite has a single writer: a write that changes nothing takes the database's write lock
  at once (waiting up to `busy_timeout`). pysqlite opens its transaction at the first write,
  so everything read after the lock is current and nobody else can decide until we commit.

Call a lock before reading what the decision depends on. Objects loaded earlier in the same
session are refreshed (`populate_existing`), so stale copies never leak into a decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import text
from sqlmodel import Session, SQLModel, col, select

from .errors import NotFound
from .models import Campaign, Draft, GenerationJob

T = TypeVar("T", bound=SQLModel)


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _take_sqlite_write_lock(session: Session) -> None:
    # A write that matches no row still begins a write transaction (RESERVED lock).
    session.execute(text("UPDATE audithead SET seq = seq WHERE 0 = 1"))


def lock_rows(session: Session, model: type[T], ids: Sequence[int]) -> list[T]:
    """Lock the rows of `model` with these ids (in id order) and return them freshly read."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    pk = col(model.id)  # type: ignore[attr-defined]  # every table passed here has an id column; SQLModel's type does not say so
    q = select(model).where(pk.in_(wanted)).order_by(pk).execution_options(populate_existing=True)
    if _sqlite(session):
        _take_sqlite_write_lock(session)
    else:
        q = q.with_for_update()
    return list(session.exec(q).all())


def lock_one(session: Session, model: type[T], pk: int, what: str) -> T:
    rows = lock_rows(session, model, [pk])
    if not rows:
        raise NotFound(f"{what} {pk} not found")
    return rows[0]


def lock_draft(session: Session, draft_id: int) -> Draft:
    return lock_one(session, Draft, draft_id, "draft")


def lock_campaign(session: Session, campaign_id: int) -> Campaign:
    return lock_one(session, Campaign, campaign_id, "campaign")


def lock_job(session: Session, job_id: int) -> GenerationJob:
    return lock_one(session, GenerationJob, job_id, "generation job")


def lock_campaign_drafts(session: Session, campaign_id: int) -> list[Draft]:
    """Every draft of a campaign, locked in id order (after the campaign itself)."""
    ids = list(session.exec(select(Draft.id).where(Draft.campaign_id == campaign_id)).all())
    return lock_rows(session, Draft, [i for i in ids if i is not None])
