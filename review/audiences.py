"""Audience import from CSV: all rows or nothing, with every bad row reported."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from . import audit
from .auth import require_role
from .errors import AudienceImportError, NotFound, WorkflowError
from .models import Audience, Recipient, Role, User

ID_COLUMN = "id"
CONSENT_COLUMN = "personalization_consent"
TRUE = {"true", "yes", "y", "1"}
FALSE = {"false", "no", "n", "0", ""}
FIELD_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_ROWS = 200_000
MAX_VALUE = 500
MAX_BYTES = 50 * 1024 * 1024
# Control characters have no business in a name or a city; they hide text from reviewers.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class ParsedAudience:
    fields: list[str]  # recipient fields, without id and consent
    rows: list[tuple[str, dict[str, str], bool]]
    sha256: str

    @property
    def consent_count(self) -> int:
        return sum(1 for _, _, c in self.rows if c)


def parse_csv(data: bytes | str, source: str = "CSV") -> ParsedAudience:
    """Validate a whole CSV. Raises AudienceImportError listing every bad row (line, reason)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise AudienceImportError([(0, f"file is larger than {MAX_BYTES // (1024 * 1024)} MB")], source)
    try:
        text = raw.decode("utf-8-sig")  # accepts a UTF-8 byte-order mark (Excel writes one)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise AudienceImportError([(line, "not UTF-8 text (save the file as CSV UTF-8)")], source) from None
    if not text.strip():
        raise AudienceImportError([(1, "the file is empty")], source)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as e:
        raise AudienceImportError([(1, f"unreadable header: {e}")], source) from None
    problems: list[tuple[int, str]] = []
    seen: set[str] = set()
    for h in header:
        if not FIELD_RE.fullmatch(h):
            problems.append((1, f"column name '{h}' must be lower_snake_case letters, digits and '_'"))
        if h in seen:
            problems.append((1, f"column '{h}' appears twice"))
        seen.add(h)
    for required in (ID_COLUMN, CONSENT_COLUMN):
        if required not in header:
            problems.append((1, f"missing required column '{required}'"))
    if problems:
        raise AudienceImportError(problems, source)
    fields = [h for h in header if h not in (ID_COLUMN, CONSENT_COLUMN)]
    rows: list[tuple[str, dict[str, str], bool]] = []
    ids: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if not record or all(not v.strip() for v in record):
                continue  # blank lines are harmless
            if len(record) != len(header):
                problems.append((line, f"has {len(record)} values but the header has {len(header)} columns"))
                continue
            values = dict(zip(header, (v.strip() for v in record), strict=True))
            rid = values.pop(ID_COLUMN)
            consent_raw = values.pop(CONSENT_COLUMN).lower()
            row_problems = []
            if not rid:
                row_problems.append("empty id")
            elif rid in ids:
                row_problems.append(f"duplicate id '{rid}' (first on line {ids[rid]})")
            if consent_raw in TRUE:
                consent = True
            elif consent_raw in FALSE:
                consent = False  # no answer is no consent
            else:
                consent = False
                row_problems.append(f"{CONSENT_COLUMN} must be yes/no/true/false/1/0, not '{consent_raw}'")
            for k, v in values.items():
                if len(v) > MAX_VALUE:
                    row_problems.append(f"'{k}' is longer than {MAX_VALUE} characters")
                if _CONTROL.search(v):
                    row_problems.append(f"'{k}' contains control or invisible characters")
            if row_problems:
                problems.extend((line, p) for p in row_problems)
                continue
            ids[rid] = line
            rows.append((rid, values, consent))
            if len(rows) > MAX_ROWS:
                raise AudienceImportError([(line, f"more than {MAX_ROWS} rows")], source)
    except csv.Error as e:
        problems.append((reader.line_num, f"malformed CSV: {e}"))
    if problems:
        raise AudienceImportError(problems, source)
    if not rows:
        raise AudienceImportError([(2, "no recipient rows")], source)
    return ParsedAudience(fields=fields, rows=rows, sha256=hashlib.sha256(raw).hexdigest())


def import_audience(session: Session, actor: User, *, name: str, data: bytes | str, source: str = "CSV") -> Audience:
    """Import a CSV as a new audience. Nothing is written if any row is bad."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    name = name.strip()
    if not name:
        raise WorkflowError("an audience needs a name")
    if session.exec(select(Audience).where(Audience.name == name)).first():
        raise WorkflowError(f"an audience named '{name}' already exists")
    parsed = parse_csv(data, source)
    aud = Audience(
        name=name, fields=parsed.fields, row_count=len(parsed.rows), consent_count=parsed.consent_count, source_sha256=parsed.sha256, created_by=actor.id
    )  # type: ignore[arg-type]
    session.add(aud)
    session.flush()
    session.bulk_insert_mappings(  # type: ignore[attr-defined]
        Recipient.__mapper__,  # type: ignore[attr-defined]
        [{"audience_id": aud.id, "external_id": rid, "data": values, "consent": consent} for rid, values, consent in parsed.rows],
    )
    audit.append(
        session,
        actor=actor.username,
        action="audience_imported",
        entity="audience",
        entity_id=aud.id,
        after={"name": name, "rows": aud.row_count, "consent": aud.consent_count, "fields": parsed.fields, "sha256": parsed.sha256},
    )
    return aud


def get_audience(session: Session, audience_id: int) -> Audience:
    aud = session.get(Audience, audience_id)
    if aud is None:
        raise NotFound(f"audience {audience_id} not found")
    return aud


def list_audiences(session: Session) -> list[Audience]:
    return list(session.exec(select(Audience).order_by(col(Audience.created_at).desc())).all())


def sample_recipients(session: Session, audience_id: int, limit: int = 20) -> list[Recipient]:
    return list(session.exec(select(Recipient).where(Recipient.audience_id == audience_id).order_by(col(Recipient.id)).limit(limit)).all())


def recipient_count(session: Session, audience_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(Recipient).where(Recipient.audience_id == audience_id)).one())
