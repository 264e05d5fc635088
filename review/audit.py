"""The tamper-evident audit trail: an append-only, hash-chained event log.

Each event's hash covers its own content and the previous event's hash, so changing,
deleting or reordering any past event breaks every link after it. `append` is called by
service functions inside the same transaction as the change it records.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from .models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64


def _plain(data: Any) -> Any:
    """What a JSON column gives back, so the hash we store is the hash we can recompute."""
    return json.loads(json.dumps(data if data is not None else {}, default=str, sort_keys=True))


def _utc_iso(ts: datetime) -> str:
    if ts.tzinfo is None:  # some drivers hand back naive UTC
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(prev_hash: str, seq: int, ts: datetime, actor: str, action: str, entity: str, entity_id: str, before: Any, after: Any) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "ts": _utc_iso(ts),
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "before": before,
            "after": after,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def append(session: Session, *, actor: str, action: str, entity: str, entity_id: Any, before: Any = None, after: Any = None) -> AuditEvent:
    """Append one event in the caller's transaction."""
    head = session.get(AuditHead, 1)
    if head is None:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        session.flush()
    # Bump the head first: this takes the write lock (SQLite) or row lock (PostgreSQL)
    # before we read the tip, so two writers can never chain onto the same event.
    session.exec(update(AuditHead).where(col(AuditHead.id) == 1).values(seq=AuditHead.seq + 1))  # type: ignore[call-overload]
    # Re-read only the head row (never expire the caller's other objects).
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)).one()
    prev = head.hash or GENESIS
    ts = utcnow()
    b, a = _plain(before), _plain(after)
    h = event_hash(prev, head.seq, ts, actor, action, entity, str(entity_id), b, a)
    ev = AuditEvent(seq=head.seq, ts=ts, actor=actor, action=action, entity=entity, entity_id=str(entity_id), before=b, after=a, prev_hash=prev, hash=h)
    head.hash = h
    session.add(ev)
    session.add(head)
    session.flush()
    return ev


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.events} events verified"
        return f"audit chain BROKEN at event #{self.first_broken_seq}: {self.reason}"


def verify_chain(session: Session, batch: int = 2000) -> ChainReport:
    """Recompute every link in order; report the first that does not verify."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = session.exec(select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(col(AuditEvent.seq)).limit(batch)).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != expected_seq:
                return ChainReport(False, count, expected_seq, f"event #{expected_seq} is missing (next is #{ev.seq})")
            if ev.prev_hash != prev:
                return ChainReport(False, count, ev.seq, "its prev_hash does not match the previous event's hash")
            recomputed = event_hash(prev, ev.seq, ev.ts, ev.actor, ev.action, ev.entity, ev.entity_id, ev.before, ev.after)
            if recomputed != ev.hash:
                return ChainReport(False, count, ev.seq, "its content does not match its hash (edited after the fact)")
            prev = ev.hash
            expected_seq += 1
            count += 1
            last_seq = ev.seq
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or (count and head.hash != prev)):
        return ChainReport(False, count, count + 1, f"the chain head records {head.seq} events but {count} remain (events deleted from the end)")
    return ChainReport(True, count)


def search_events(
    session: Session, *, text: str = "", action: str = "", entity: str = "", entity_id: str = "", limit: int = 200, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    """Newest first, with the total count for pagination."""
    q = select(AuditEvent)
    cq = select(func.count()).select_from(AuditEvent)
    conds = []
    if action:
        conds.append(col(AuditEvent.action) == action)
    if entity:
        conds.append(col(AuditEvent.entity) == entity)
    if entity_id:
        conds.append(col(AuditEvent.entity_id) == str(entity_id))
    if text:
        like = f"%{text}%"
        conds.append(col(AuditEvent.actor).ilike(like) | col(AuditEvent.action).ilike(like) | col(AuditEvent.entity_id).ilike(like))
    for c in conds:
        q = q.where(c)
        cq = cq.where(c)
    total = session.exec(cq).one()
    rows = session.exec(q.order_by(col(AuditEvent.seq).desc()).offset(offset).limit(limit)).all()
    return list(rows), int(total)
