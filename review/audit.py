"""The tamper-evident audit trail: an append-only, hash-chained event log.

Each event's hash covers its own content and the previous event's hash, so changing,
deleting or reordering any past event breaks every link after it. `append` is called by
service functions inside the same transaction as the change it records.

A plain hash chain stops at the database's edge: someone who can write the database can edit
an event and recompute every later hash. Three anchors close that gap (README, "Security"):

- every event carries an HMAC of its hash under the **audit key**, which lives outside the
  database (`COUNTERSIGN_AUDIT_KEY`, or a key file under the data dir): rewriting events
  needs the key as well;
- the chain head carries an HMAC of (seq, hash): cutting events off the end and resetting the
  head needs the key too (or a copy of an old head row);
- **checkpoints** of the head are written to a file outside the database after every export
  and by `audit-checkpoint` (cron); `verify-audit` checks the chain still holds each of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from .config import settings
from .errors import ConfigError
from .models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64


# ------------------------------------------------------------------------------ the key


def audit_key(*, create: bool = True) -> bytes | None:
    """The MAC key: `COUNTERSIGN_AUDIT_KEY`, else the key file (created on first use)."""
    cfg = settings()
    if cfg.audit_key:
        return cfg.audit_key.encode("utf-8")
    path = cfg.audit_key_file
    if not path.exists():
        if not create:
            return None
        _create_key_file(path)
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: the audit key file cannot be read ({e})") from None
    if len(key) < 32:
        raise ConfigError(f"{path}: the audit key file holds fewer than 32 characters")
    return key.encode("ascii")


def _create_key_file(path: Path) -> None:
    """Write a new random key; if another process got there first, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):  # another process made it first: keep theirs
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def event_mac(key: bytes, event_hash_: str) -> str:
    return hmac.new(key, b"event:" + event_hash_.encode("ascii"), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"head:{seq}:{hash_}".encode("ascii"), hashlib.sha256).hexdigest()


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
    key = audit_key()
    assert key is not None
    head = session.get(AuditHead, 1)
    if head is None:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        session.flush()
    # Bump the head first: this takes the write lock (SQLite) or row lock (PostgreSQL)
    # before we read the tip, so two writers can never chain onto the same event.
    session.exec(update(AuditHead).where(col(AuditHead.id) == 1).values(seq=AuditHead.seq + 1))
    # Re-read only the head row (never expire the caller's other objects).
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)).one()
    prev = head.hash or GENESIS
    ts = utcnow()
    b, a = _plain(before), _plain(after)
    h = event_hash(prev, head.seq, ts, actor, action, entity, str(entity_id), b, a)
    ev = AuditEvent(
        seq=head.seq,
        ts=ts,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=b,
        after=a,
        prev_hash=prev,
        hash=h,
        mac=event_mac(key, h),
    )
    head.hash = h
    head.mac = head_mac(key, head.seq, h)
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
    checkpoints: int = 0

    def __str__(self) -> str:
        if self.ok:
            cps = f"; {self.checkpoints} checkpoint(s) held" if self.checkpoints else ""
            return f"audit chain OK: {self.events} events verified, every MAC checked{cps}"
        where = f" at event #{self.first_broken_seq}" if self.first_broken_seq is not None else ""
        return f"audit chain BROKEN{where}: {self.reason}"


def recompute_hash(ev: AuditEvent) -> str:
    return event_hash(ev.prev_hash, ev.seq, ev.ts, ev.actor, ev.action, ev.entity, ev.entity_id, ev.before, ev.after)


def event_problem(ev: AuditEvent, key: bytes) -> str | None:
    """Why this one event cannot be trusted (None when its content, hash and MAC agree)."""
    if recompute_hash(ev) != ev.hash:
        return f"event #{ev.seq}'s content does not match its hash (edited after the fact)"
    if not hmac.compare_digest(ev.mac or "", event_mac(key, ev.hash)):
        return f"event #{ev.seq}'s MAC does not verify: it was written or rewritten without the audit key"
    return None


def verify_chain(session: Session, batch: int = 2000, checkpoints: list[dict[str, Any]] | None = None) -> ChainReport:
    """Recompute every link and MAC in order; report the first that does not verify.

    `checkpoints` (from `read_checkpoints`) are heads recorded outside the database: the
    chain must still reach each of them with the same hash.
    """
    key = audit_key(create=False)
    if key is None:
        return ChainReport(False, 0, None, "no audit key: set COUNTERSIGN_AUDIT_KEY or COUNTERSIGN_AUDIT_KEY_FILE to the key this trail was written with")
    wanted = {int(cp["seq"]): cp for cp in checkpoints or []}
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
            problem = event_problem(ev, key)
            if problem:
                return ChainReport(False, count, ev.seq, problem)
            cp = wanted.get(ev.seq)
            if cp is not None and cp.get("hash") != ev.hash:
                return ChainReport(False, count, ev.seq, f"it differs from the checkpoint written {cp.get('written_at', '')}: the trail was rewritten")
            prev = ev.hash
            expected_seq += 1
            count += 1
            last_seq = ev.seq
    beyond = sorted(s for s in wanted if s > count)
    if beyond:
        cp = wanted[beyond[-1]]
        return ChainReport(
            False, count, count + 1, f"a checkpoint written {cp.get('written_at', '')} records {beyond[-1]} events but {count} remain (events deleted)"
        )
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or (count and head.hash != prev)):
        return ChainReport(False, count, count + 1, f"the chain head records {head.seq} events but {count} remain (events deleted from the end)")
    if head is not None and count and not hmac.compare_digest(head.mac or "", head_mac(key, head.seq, head.hash)):
        return ChainReport(False, count, count, "the chain head's MAC does not verify: the head was reset without the audit key (events cut off the end?)")
    return ChainReport(True, count, checkpoints=len(wanted))


# ------------------------------------------------------------------------ checkpoints


def current_checkpoint(session: Session) -> dict[str, Any]:
    """The head as it stands in this session, ready to be written outside the database."""
    head = session.get(AuditHead, 1)
    if head is None or not head.seq:
        return {"seq": 0, "hash": GENESIS, "mac": "", "written_at": utcnow().isoformat()}
    return {"seq": head.seq, "hash": head.hash, "mac": head.mac, "written_at": utcnow().isoformat()}


def write_checkpoint(checkpoint: dict[str, Any], path: Path | None = None) -> Path:
    """Append one checkpoint line (O_APPEND: concurrent writers never interleave a line)."""
    path = Path(path or settings().audit_checkpoint_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(checkpoint, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return path


def checkpoint_after_commit(session: Session) -> None:
    """Write a checkpoint of this transaction's head once (and only if) it commits."""
    from .db import after_outcome

    cp = current_checkpoint(session)

    def _write() -> None:
        try:
            write_checkpoint(cp)
        except OSError:  # pragma: no cover - the export stands; verify-audit still checks the chain
            import logging

            logging.getLogger(__name__).exception("could not write the audit checkpoint")

    after_outcome(session, committed=_write)


def read_checkpoints(path: Path) -> list[dict[str, Any]]:
    """Checkpoints from a file; a malformed line is an error naming the line."""
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the checkpoint file ({e})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cp = json.loads(line)
            if not isinstance(cp, dict) or not isinstance(cp.get("seq"), int) or not isinstance(cp.get("hash"), str):
                raise ValueError("needs an integer 'seq' and a text 'hash'")
        except ValueError as e:
            raise ConfigError(f"{path}:{n}: not a checkpoint ({e})") from None
        if cp["seq"]:
            out.append(cp)
    return out


def verify_everything(session: Session, checkpoint_file: Path | None = None) -> ChainReport:
    """verify_chain with the checkpoints kept outside the database (the configured file when it exists)."""
    path = Path(checkpoint_file or settings().audit_checkpoint_file)
    return verify_chain(session, checkpoints=read_checkpoints(path) if path.is_file() else [])


def event_filters(*, text: str = "", action: str = "", entity: str = "", entity_id: str = "") -> list[Any]:
    """SQL conditions for an audit search: exact action, entity and id; `text` in actor, action or id."""
    conds: list[Any] = []
    if action:
        conds.append(col(AuditEvent.action) == action)
    if entity:
        conds.append(col(AuditEvent.entity) == entity)
    if entity_id:
        conds.append(col(AuditEvent.entity_id) == str(entity_id))
    if text:
        like = f"%{text}%"
        conds.append(col(AuditEvent.actor).ilike(like) | col(AuditEvent.action).ilike(like) | col(AuditEvent.entity_id).ilike(like))
    return conds
