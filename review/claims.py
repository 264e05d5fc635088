"""The claims library: `brand_guidelines/<brand>/claims.yaml`, owned by the brand team.

This module is the only reader and writer of claims.yaml. `read_claims` parses it into typed
`Claim` objects (the rule loader's claims rule and grounding read those), collecting every
problem with its line; parsed files are cached by their (mtime_ns, size).

Retiring a claim edits only its `status:` value in place (comments and layout survive), then
re-checks every draft whose check report matched that claim; approved ones lose their
signatures and go back to review, because the report they signed is no longer true.

The file edit is part of the unit of work. The new text is staged in the session: the
re-check runs against rules built from it (`checks.stage_rules`), and the file is written only
once the transaction commits. A rollback leaves the file as it was, byte for byte. A write that
fails after the commit is raised to whoever committed, naming the file: the database says the
claim is retired, and someone must make the file say so too. From staging until the write, the
brand folder is locked (flock), so a second retirement in another process reads the file only
after the first one's write.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from . import audit, yamlsafe
from .auth import require_role
from .brands import brand_by_slug
from .config import settings
from .db import after_outcome
from .errors import ConfigError, Conflict, InvalidInput, NotFound, NotReady
from .guidelines.errors import GuidelineError
from .guidelines.rule import Claim
from .locks import lock_rows
from .models import Brand, Campaign, Draft, Role, User, pk
from .yamlsafe import describe_value, did_you_mean

log = logging.getLogger(__name__)
CLAIM_KEYS = ("id", "wording", "reference", "status", "valid_until")
__all__ = ["Claim", "CLAIM_KEYS", "read_claims", "parse_claims", "retire_claim", "RetireResult"]


# ------------------------------------------------------------------ reading


def parse_claims(doc: yamlsafe.YamlDoc, path: Path, errors: list[GuidelineError]) -> tuple[Claim, ...]:
    """The claims of a parsed claims.yaml (a list, or a mapping with one key `claims`); every
    problem goes to `errors` with its line, and a bad entry is left out."""

    def fail(reason: str, *where: str | int) -> None:
        errors.append(GuidelineError(str(path), doc.line(*where), reason))

    data = doc.value if doc.value is not None else []
    base: tuple[str, ...] = ()
    if isinstance(data, dict) and set(data) == {"claims"}:
        data, base = data["claims"], ("claims",)
    if not isinstance(data, list):
        fail("claims.yaml must be a list of claims (each with id, wording, reference, status, and optionally valid_until)")
        return ()
    out: list[Claim] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        where: tuple[str | int, ...] = (*base, i)
        n = i + 1
        if not isinstance(item, dict):
            fail(f"claim {n} must be a mapping with id, wording, reference, status", *where)
            continue
        before = len(errors)
        for key in item:
            if key not in CLAIM_KEYS:
                fail(f"unknown key '{key}' in claim {n}{did_you_mean(str(key), list(CLAIM_KEYS))}", *where, str(key))
        for key in ("id", "wording"):
            if key not in item:
                fail(f"claim {n} is missing '{key}'", *where)
            elif not isinstance(item[key], str) or not item[key].strip():
                fail(f"'{key}' of claim {n} must be text, not {describe_value(item[key])}", *where, key)
        ref = item.get("reference", "")
        if not isinstance(ref, str):
            fail(f"'reference' of claim {n} must be text, not {describe_value(ref)}", *where, "reference")
        status = item.get("status", "active")
        if status not in ("active", "retired"):
            fail(f"status of claim {n} must be active or retired, not {status!r}", *where, "status")
        valid_until, problem = _valid_until(item.get("valid_until"), n)
        if problem:
            fail(problem, *where, "valid_until")
        if len(errors) > before:
            continue
        if item["id"] in seen:
            fail(f"duplicate claim id '{item['id']}'", *where, "id")
            continue
        seen.add(item["id"])
        out.append(Claim(item["id"].strip(), item["wording"].strip(), ref.strip(), status, valid_until))
    return tuple(out)


def _valid_until(value: object, n: int) -> tuple[date | None, str | None]:
    """(date, problem) of a claim's `valid_until`: a date (2027-06-30, quoted or not); no date
    and no problem when it is absent."""
    if value is None:
        return None, None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value, None
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip()), None
        except ValueError:
            pass
    given = repr(value) if isinstance(value, str) else "a date and time (give the day only)" if isinstance(value, datetime) else describe_value(value)
    return None, f"'valid_until' of claim {n} must be a date written YYYY-MM-DD (e.g. 2027-06-30), not {given}"


_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int], tuple[Claim, ...], tuple[GuidelineError, ...]]] = {}


def read_claims(path: Path) -> tuple[tuple[Claim, ...], list[GuidelineError]]:
    """(claims, problems) of a claims.yaml; re-parsed only when its mtime or size changed."""
    path = Path(path)
    try:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
    except OSError as e:
        return (), [GuidelineError(str(path), None, f"cannot read file: {e.strerror or e}")]
    with _lock:
        hit = _cache.get(path)
    if hit is not None and hit[0] == key:
        return hit[1], list(hit[2])
    errors: list[GuidelineError] = []
    try:
        claims = parse_claims(yamlsafe.load_file(path), path, errors)
    except yamlsafe.YamlRefused as e:
        return (), [GuidelineError(str(path), e.line, e.reason)]
    with _lock:
        _cache[path] = (key, claims, tuple(errors))
    return claims, errors


def _claims_of(text: str, path: Path) -> tuple[yamlsafe.YamlDoc, tuple[Claim, ...]]:
    """A claims text that must be valid as a whole (the one about to be written)."""
    errors: list[GuidelineError] = []
    try:
        doc = yamlsafe.loads(text)
    except yamlsafe.YamlRefused as e:
        raise ConfigError(str(GuidelineError(str(path), e.line or 1, e.reason))) from None
    claims = parse_claims(doc, path, errors)
    if errors:
        raise ConfigError(f"{errors[0]} (fix claims.yaml before retiring a claim)")
    return doc, claims


def _status_position(doc: yamlsafe.YamlDoc, claim_id: str, path: Path) -> tuple[int, int, int]:
    """(line index, start column, end column) of the claim's `status:` value in the text."""
    items = doc.value["claims"] if isinstance(doc.value, dict) else doc.value
    base: tuple[str, ...] = ("claims",) if isinstance(doc.value, dict) else ()
    i = next(n for n, item in enumerate(items) if str(item.get("id", "")).strip() == claim_id)
    status = yamlsafe.node_at(doc.node, *base, i, "status")
    if status is None:
        raise NotReady(f"{path}:{doc.line(*base, i)}: claim {claim_id} has no 'status' to change: add 'status: active' to it first")
    if status.start_mark.line != status.end_mark.line:
        raise NotReady(f"{path}:{status.start_mark.line + 1}: claim {claim_id}'s status spans lines")
    return status.start_mark.line, status.start_mark.column, status.end_mark.column


# ------------------------------------------------------------------ the staged file edit

_STAGED = "countersign.claims_staged"


@dataclass
class _Staged:
    """claims.yaml as this transaction will leave it; written when (and if) it commits."""

    path: Path
    folder_lock: int  # a descriptor holding flock on the brand folder until the outcome
    original: str
    text: str


def _write(path: Path, text: str) -> None:
    """Replace the claims file atomically; the next check re-reads it (forget_stamps)."""
    from .checks import forget_stamps

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".claims-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    forget_stamps()


def _stage(session: Session, path: Path, slug: str) -> _Staged:
    """The session's staged text of `path`, locking the folder and reading the file the first time."""
    from .checks import unstage_rules

    staged: dict[Path, _Staged] = session.info.setdefault(_STAGED, {})
    if path in staged:
        return staged[path]
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for another process's retirement to be written
        text = yamlsafe.read_text(path)
    except BaseException:
        os.close(fd)
        raise
    entry = staged[path] = _Staged(path, fd, text, text)

    def release() -> None:
        staged.pop(path, None)
        unstage_rules(session, slug)
        os.close(entry.folder_lock)  # releases the flock

    def committed() -> None:
        try:
            if entry.text != entry.original:
                _write(path, entry.text)
        except OSError as e:
            log.exception("claims file not written after commit")
            raise ConfigError(
                f"{path}: the retirement is committed (see the audit trail) but the file could not be written "
                f"({e.strerror or e}); set the claim's status to retired in the file by hand"
            ) from e
        finally:
            release()

    after_outcome(session, committed=committed, rolled_back=release)
    return entry


@dataclass(frozen=True)
class RetireResult:
    claim_id: str
    drafts_rechecked: int
    drafts_changed: list[int]


def retire_claim(session: Session, actor: User, brand_slug: str, claim_id: str, *, reason: str) -> RetireResult:
    from .checks import stage_rules
    from .guidelines import load_ruleset
    from .workflow import EDITABLE, recheck_drafts

    require_role(actor, Role.REVIEWER, Role.ADMIN)
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidInput("retiring a claim needs a reason (e.g. the evidence expired)")
    brand = brand_by_slug(session, brand_slug)
    # One retirement per brand at a time: the second of two waits, then reads the file again.
    lock_rows(session, Brand, [pk(brand)])
    path = Path(settings().guidelines_dir) / brand_slug / "claims.yaml"
    if not path.is_file():
        raise NotFound(f"brand '{brand_slug}' has no claims library ({path})")
    entry = _stage(session, path, brand_slug)
    doc, claims = _claims_of(entry.text, path)
    claim = next((c for c in claims if c.id == claim_id), None)
    if claim is None:
        raise NotFound(f"brand '{brand_slug}' has no claim {claim_id}")
    if claim.status == "retired":
        raise Conflict(f"claim {claim_id} is already retired")
    line, start, end = _status_position(doc, claim_id, path)
    lines = entry.text.splitlines(keepends=True)
    lines[line] = lines[line][:start] + "retired" + lines[line][end:]
    entry.text = "".join(lines)
    # The re-check below must see the claim retired: it runs on rules built from the staged text.
    _, new_claims = _claims_of(entry.text, path)
    stage_rules(session, brand_slug, load_ruleset(path.parent, claims=new_claims))
    audit.append(
        session,
        actor=actor.username,
        action="claim_retired",
        entity="claim",
        entity_id=f"{brand_slug}/{claim_id}",
        before={"status": claim.status},
        after={"status": "retired", "reason": reason},
    )
    # Drafts "used" the claim when their stored check report matched it.
    candidates = session.exec(
        select(Draft).join(Campaign, col(Campaign.id) == col(Draft.campaign_id)).where(Campaign.brand_id == brand.id, col(Draft.status).in_(sorted(EDITABLE)))
    ).all()
    used = [d.id for d in candidates if d.id is not None and any(f.get("claim_id") == claim_id for f in d.findings)]
    changed = recheck_drafts(session, actor, used, reason=f"claim {claim_id} retired: {reason}")
    return RetireResult(claim_id, len(used), changed)
