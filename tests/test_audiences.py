"""CSV import: every bad row reported, nothing imported from a bad file."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from review.audiences import import_audience, parse_csv
from review.auth import create_user
from review.errors import AudienceImportError, PermissionDenied
from review.models import Audience, Recipient, Role

HEADER = "id,first_name,city,personalization_consent\n"


def test_parses_bom_and_consent_words() -> None:
    data = ("\ufeff" + HEADER + "1,Ana,Leeds,yes\n2,Ben,York,NO\n3,Zoë,Cork,\n").encode("utf-8")
    parsed = parse_csv(data)
    assert parsed.fields == ["first_name", "city"]
    assert [(r[0], r[2]) for r in parsed.rows] == [("1", True), ("2", False), ("3", False)]
    assert parsed.rows[2][1]["first_name"] == "Zoë"


@pytest.mark.parametrize(
    "body, expected",
    [
        ("1,Ana,Leeds,maybe\n", [(2, "personalization_consent must be yes/no/true/false/1/0, not 'maybe'")]),
        ("1,Ana,Leeds,yes\n1,Ben,York,yes\n", [(3, "duplicate id '1' (first on line 2)")]),
        (",Ana,Leeds,yes\n", [(2, "empty id")]),
        ("1,Ana,yes\n", [(2, "has 3 values but the header has 4 columns")]),
        ("1,Ana\u202e,Leeds,yes\n", [(2, "'first_name' contains control or invisible characters")]),
        (
            "1,Ana,Leeds,yes\n2,Ben,York,perhaps\n3,Cy,Hull\n",
            [(3, "personalization_consent must be yes/no/true/false/1/0, not 'perhaps'"), (4, "has 3 values but the header has 4 columns")],
        ),
    ],
)
def test_every_bad_row_is_reported_with_its_line(body: str, expected: list[tuple[int, str]]) -> None:
    with pytest.raises(AudienceImportError) as e:
        parse_csv(HEADER + body)
    assert e.value.problems == expected
    assert "nothing imported" in str(e.value)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "the file is empty"),
        (b"id,first_name\n1,Ana\n", "missing required column 'personalization_consent'"),
        (b"id,First Name,personalization_consent\n1,Ana,yes\n", "must be lower_snake_case"),
        (b"id,city,city,personalization_consent\n1,a,b,yes\n", "column 'city' appears twice"),
        ("id,city,personalization_consent\n1,K\u00f8benhavn,yes\n".encode("latin-1"), "not UTF-8"),
        (HEADER.encode(), "no recipient rows"),
    ],
)
def test_file_level_problems(data: bytes, fragment: str) -> None:
    with pytest.raises(AudienceImportError, match=fragment):
        parse_csv(data)


def test_failed_import_writes_nothing_and_keeps_what_was_saved(session: Session) -> None:
    admin = create_user(session, None, username="admin", full_name="A", role=Role.ADMIN, password="admin-pass-1")
    m = create_user(session, admin, username="m", full_name="M", role=Role.MARKETER, password="mark-pass-1")
    import_audience(session, m, name="good", data=HEADER + "1,Ana,Leeds,yes\n")
    session.commit()
    with pytest.raises(AudienceImportError):
        import_audience(session, m, name="bad", data=HEADER + "1,Ana,Leeds,yes\n2,Ben,York,dunno\n")
    session.rollback()
    assert [a.name for a in session.exec(select(Audience)).all()] == ["good"]
    assert len(session.exec(select(Recipient)).all()) == 1


def test_reviewers_cannot_import(session: Session) -> None:
    admin = create_user(session, None, username="admin", full_name="A", role=Role.ADMIN, password="admin-pass-1")
    r = create_user(session, admin, username="r", full_name="R", role=Role.REVIEWER, password="revi-pass-1")
    with pytest.raises(PermissionDenied):
        import_audience(session, r, name="x", data=HEADER + "1,Ana,Leeds,yes\n")


def test_hostile_strings_are_stored_as_data(session: Session) -> None:
    admin = create_user(session, None, username="admin", full_name="A", role=Role.ADMIN, password="admin-pass-1")
    m = create_user(session, admin, username="m", full_name="M", role=Role.MARKETER, password="mark-pass-1")
    evil = "Robert'); DROP TABLE recipient;--"
    import_audience(session, m, name="evil", data=HEADER + f'1,"{evil}",{{{{ 7*7 }}}},yes\n')
    session.commit()
    r = session.exec(select(Recipient)).one()
    assert r.data == {"first_name": evil, "city": "{{ 7*7 }}"}
