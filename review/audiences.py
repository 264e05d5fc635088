"""Audience import from CSV: all rows or nothing, with every bad row reported.

An audience belongs to one brand, and only that brand's declared fields are kept
(brand.yaml `personalization.fields`): every value is checked against its field's type
(review.fields). A column the brand does not declare, or declares sensitive, is dropped at
import, never stored, and named in the preview, the command's output and the audit trail:
data a message may never use is data we should not hold.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlmodel import Session, col, func, select

from . import audit, textsafety
from .auth import require_role
from .brands import BrandPolicy, brand_by_slug, policy_for
from .errors import AudienceImportError, Conflict, InvalidInput
from .fields import FORMULA_START, formula_start
from .models import Audience, Recipient, Role, User, pk

ID_COLUMN = "id"
CONSENT_COLUMN = "personalization_consent"
TRUE = {"true", "yes", "y", "1"}
FALSE = {"false", "no", "n", "0", ""}
FIELD_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_ROWS = 200_000
MAX_VALUE = 500
MAX_BYTES = 50 * 1024 * 1024
MAX_ID = 100


@dataclass(frozen=True)
class ParsedAudience:
    fields: list[str]  # recipient fields kept, without id and consent
    rows: list[tuple[str, dict[str, str], bool]]
    sha256: str
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it was not kept

    @property
    def consent_count(self) -> int:
        return sum(1 for _, _, c in self.rows if c)


def _id_problem(rid: str) -> str | None:
    if len(rid) > MAX_ID:
        return f"id is longer than {MAX_ID} characters"
    at = textsafety.find_unsafe(rid, multiline=False)
    if at is not None:
        return f"id contains {textsafety.describe(rid[at])}, an invisible or control character"
    if formula_start(rid) in FORMULA_START:
        return f"id starts with '{rid[0]}', which spreadsheets read as a formula"
    return None


def parse_csv(data: bytes | str, policy: BrandPolicy, source: str = "CSV") -> ParsedAudience:
    """Validate a whole CSV for `policy`'s brand. Raises AudienceImportError listing every bad
    value (line, column and reason); columns the brand does not allow are dropped and listed."""
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
    columns = {h: n for n, h in enumerate(header, 1)}
    specs = {}
    dropped: dict[str, str] = {}
    for h in header:
        if h in (ID_COLUMN, CONSENT_COLUMN):
            continue
        spec = policy.field_spec(h)
        if spec is not None:
            specs[h] = spec
        elif h in policy.sensitive_fields:
            dropped[h] = f"sensitive for {policy.name}: never stored"
        else:
            dropped[h] = f"not a field {policy.name} declares: not stored"
    fields = list(specs)
    rows: list[tuple[str, dict[str, str], bool]] = []
    ids: dict[str, int] = {}
    try:
        last = reader.line_num
        for record in reader:
            # The line a record starts on: a quoted value may span lines, and its row should be
            # reported where it begins.
            line, last = last + 1, reader.line_num
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
            elif (why := _id_problem(rid)) is not None:
                row_problems.append(why)
            if consent_raw in TRUE:
                consent = True
            elif consent_raw in FALSE:
                consent = False  # no answer is no consent
            else:
                consent = False
                row_problems.append(f"{CONSENT_COLUMN} must be yes/no/true/false/1/0, not '{consent_raw}'")
            kept = {k: values[k] for k in specs}
            for k, v in kept.items():
                why = f"is longer than {MAX_VALUE} characters" if len(v) > MAX_VALUE else specs[k].problem(v)
                if why is not None:
                    row_problems.append(f"'{k}' (column {columns[k]}) {why}")
            if row_problems:
                problems.extend((line, p) for p in row_problems)
                continue
            ids[rid] = line
            rows.append((rid, kept, consent))
            if len(rows) > MAX_ROWS:
                raise AudienceImportError([(line, f"more than {MAX_ROWS} rows")], source)
    except csv.Error as e:
        problems.append((reader.line_num, f"malformed CSV: {e}"))
    if problems:
        raise AudienceImportError(problems, source)
    if not rows:
        raise AudienceImportError([(2, "no recipient rows")], source)
    return ParsedAudience(fields=fields, rows=rows, sha256=hashlib.sha256(raw).hexdigest(), dropped=dropped)


def import_audience(session: Session, actor: User, *, name: str, brand_slug: str, data: bytes | str, source: str = "CSV") -> Audience:
    """Import a CSV as a new audience of one brand. Nothing is written if any value is bad."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    name = name.strip()
    if not name:
        raise InvalidInput("an audience needs a name")
    brand = brand_by_slug(session, brand_slug)  # a brand folder added later is registered here
    if session.exec(select(Audience).where(Audience.name == name)).first():
        raise Conflict(f"an audience named '{name}' already exists")
    parsed = parse_csv(data, policy_for(brand), source)
    aud = Audience(
        name=name,
        brand_id=brand.id,
        fields=parsed.fields,
        row_count=len(parsed.rows),
        consent_count=parsed.consent_count,
        source_sha256=parsed.sha256,
        created_by=pk(actor),
    )
    session.add(aud)
    session.flush()
    session.execute(
        insert(Recipient),
        [{"audience_id": aud.id, "external_id": rid, "data": values, "consent": consent} for rid, values, consent in parsed.rows],
    )
    audit.append(
        session,
        actor=actor.username,
        action="audience_imported",
        entity="audience",
        entity_id=aud.id,
        after={
            "name": name,
            "brand": brand_slug,
            "rows": aud.row_count,
            "consent": aud.consent_count,
            "fields": parsed.fields,
            "dropped": parsed.dropped,
            "sha256": parsed.sha256,
        },
    )
    return aud


def list_audiences(session: Session) -> list[Audience]:
    return list(session.exec(select(Audience).order_by(col(Audience.created_at).desc())).all())


def sample_recipients(session: Session, audience_id: int, limit: int = 20) -> list[Recipient]:
    return list(session.exec(select(Recipient).where(Recipient.audience_id == audience_id).order_by(col(Recipient.id)).limit(limit)).all())


def recipient_count(session: Session, audience_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(Recipient).where(Recipient.audience_id == audience_id)).one())
