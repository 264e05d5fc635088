"""CSV import: every bad row reported, nothing imported from a bad file."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from review.audiences import import_audience, parse_csv
from review.auth import create_user
from review.brands import BrandPolicy, sync_brands
from review.errors import AudienceImportError, PermissionDenied
from review.fields import FieldSpec
from review.models import Audience, Brand, Recipient, Role

HEADER = "id,first_name,city,personalization_consent\n"
POLICY = BrandPolicy(
    slug="lab",
    name="Lab",
    industry="x",
    allowed_fields=("first_name", "city", "note"),
    sensitive_fields=("religion",),
    fields=(FieldSpec("first_name", "name", 40), FieldSpec("city", "city", 60), FieldSpec("note", "text", 200)),
)


def parse_csv_(data, source="CSV"):  # type: ignore[no-untyped-def]
    return parse_csv(data, POLICY, source)


def test_parses_bom_and_consent_words() -> None:
    data = ("\ufeff" + HEADER + "1,Ana,Leeds,yes\n2,Ben,York,NO\n3,Zoë,Cork,\n").encode("utf-8")
    parsed = parse_csv_(data)
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
        ("1,Ana\u202e,Leeds,yes\n", [(2, "'first_name' (column 2) contains U+202E RIGHT-TO-LEFT OVERRIDE, an invisible or control character")]),
        (
            "1,Ana,Leeds,yes\n2,Ben,York,perhaps\n3,Cy,Hull\n",
            [(3, "personalization_consent must be yes/no/true/false/1/0, not 'perhaps'"), (4, "has 3 values but the header has 4 columns")],
        ),
    ],
)
def test_every_bad_row_is_reported_with_its_line(body: str, expected: list[tuple[int, str]]) -> None:
    with pytest.raises(AudienceImportError) as e:
        parse_csv_(HEADER + body)
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
        parse_csv_(data)


def test_failed_import_writes_nothing_and_keeps_what_was_saved(session: Session) -> None:
    sync_brands(session)
    admin = create_user(session, None, username="admin", full_name="A", role=Role.ADMIN, password="admin-pass-1")
    m = create_user(session, admin, username="m", full_name="M", role=Role.MARKETER, password="mark-pass-1")
    import_audience(session, m, name="good", brand_slug="acme-pharma", data=HEADER + "1,Ana,Leeds,yes\n")
    session.commit()
    with pytest.raises(AudienceImportError):
        import_audience(session, m, name="bad", brand_slug="acme-pharma", data=HEADER + "1,Ana,Leeds,yes\n2,Ben,York,dunno\n")
    session.rollback()
    assert [a.name for a in session.exec(select(Audience)).all()] == ["good"]
    assert len(session.exec(select(Recipient)).all()) == 1


def test_reviewers_cannot_import(session: Session) -> None:
    admin = create_user(session, None, username="admin", full_name="A", role=Role.ADMIN, password="admin-pass-1")
    r = create_user(session, admin, username="r", full_name="R", role=Role.REVIEWER, password="revi-pass-1")
    with pytest.raises(PermissionDenied):
        import_audience(session, r, name="x", brand_slug="acme-pharma", data=HEADER + "1,Ana,Leeds,yes\n")


def test_hostile_strings_in_a_text_field_are_stored_as_data() -> None:
    evil = "Robert'); DROP TABLE recipient;--"
    parsed = parse_csv_("id,first_name,note,personalization_consent\n" + f'1,Ana,"{evil}",yes\n2,Ben,{{{{ 7*7 }}}},yes\n')
    assert [r[1]["note"] for r in parsed.rows] == [evil, "{{ 7*7 }}"]


def test_import_binds_the_brand_and_drops_columns_it_does_not_allow(session: Session) -> None:
    sync_brands(session)
    admin = create_user(session, None, username="admin", full_name="A", role=Role.ADMIN, password="admin-pass-1")
    m = create_user(session, admin, username="m", full_name="M", role=Role.MARKETER, password="mark-pass-1")
    data = "id,first_name,religion,health_condition,shoe_size,personalization_consent\n1,Ana,x,asthma,38,yes\n"
    aud = import_audience(session, m, name="a", brand_slug="acme-pharma", data=data)
    session.commit()
    brand = session.exec(select(Brand).where(Brand.slug == "acme-pharma")).one()
    assert aud.brand_id == brand.id and aud.fields == ["first_name"]
    assert session.exec(select(Recipient)).one().data == {"first_name": "Ana"}
    from review.models import AuditEvent

    event = session.exec(select(AuditEvent).where(AuditEvent.action == "audience_imported")).one()
    assert event.after["brand"] == "acme-pharma"
    assert event.after["dropped"] == {
        "religion": "sensitive for Acme Pharma: never stored",
        "health_condition": "sensitive for Acme Pharma: never stored",
        "shoe_size": "not a field Acme Pharma declares: not stored",
    }


def test_unknown_brand_is_refused(session: Session) -> None:
    from review.errors import NotFound

    sync_brands(session)
    admin = create_user(session, None, username="admin", full_name="A", role=Role.ADMIN, password="admin-pass-1")
    with pytest.raises(NotFound, match="brand 'nope' not found"):
        import_audience(session, admin, name="x", brand_slug="nope", data=HEADER + "1,Ana,Leeds,yes\n")


def test_a_campaign_refuses_an_audience_of_another_brand(world) -> None:  # type: ignore[no-untyped-def]
    from review.campaigns import create_campaign
    from review.errors import WorkflowError

    s = world.session
    other = Brand(slug="other", name="Other", industry="x", approvals_required=1)
    s.add(other)
    s.flush()
    aud = s.get(Audience, world.audience_id)
    aud.brand_id = other.id
    s.add(aud)
    s.flush()
    with pytest.raises(WorkflowError, match="audience 'Acme test audience' belongs to brand 'other', not 'acme-pharma'"):
        create_campaign(s, world.marketer, name="c2", template_version_id=world.template_version_id, audience_id=aud.id)
    aud.brand_id = None
    s.add(aud)
    s.flush()
    with pytest.raises(WorkflowError, match="imported before audiences belonged to a brand"):
        create_campaign(s, world.marketer, name="c3", template_version_id=world.template_version_id, audience_id=aud.id)


FIELDS = {
    "name": FieldSpec("v", "name", 40),
    "city": FieldSpec("v", "city", 60),
    "text": FieldSpec("v", "text", 30),
    "email": FieldSpec("v", "email"),
    "phone": FieldSpec("v", "phone"),
    "enum": FieldSpec("v", "enum", 60, ("home", "motor")),
    "integer": FieldSpec("v", "integer", 18, (), 0, 100),
    "date": FieldSpec("v", "date"),
}


@pytest.mark.parametrize(
    "ftype, value, problem",
    [
        ("name", "Zoë O'Brien-Núñez", None),
        ("name", "St. John", None),
        ("name", "Ann2", "is not a name: '2' is not allowed"),
        ("name", "www.evil.example", "contains a web address"),
        ("name", "ann.evil", "contains a web address"),
        ("name", "<b>Ann</b>", "contains markup (< or an &entity;)"),
        ("name", '=HYPERLINK("http://x")', "starts with '=', which spreadsheets read as a formula"),
        ("name", "@SUM(1)", "starts with '@', which spreadsheets read as a formula"),
        ("name", "Ann\r\nBcc: x@y.z", "must be a single line (it holds a line break)"),
        ("name", "A" * 41, "is longer than 40 characters"),
        ("name", "An\u200bn", "contains U+200B ZERO WIDTH SPACE, an invisible or control character"),
        ("city", "Saint-Étienne (Loire)", None),
        ("city", "Frankfurt am Main 2", None),
        ("city", "Leeds; rm -rf", "is not a city: ';' is not allowed"),
        ("text", "Prefers mornings", None),
        ("text", "see https://evil.example", "contains a web address"),
        ("text", "+1 mornings", "starts with '+', which spreadsheets read as a formula"),
        ("text", "-2+3", "starts with '-', which spreadsheets read as a formula"),
        ("email", "zoë.garcía5@example.com", None),
        ("email", "ann@", "is not an e-mail address"),
        ("email", "ann@example.com\tx", "is not an e-mail address"),
        ("phone", "+44 20 7946 0958", None),
        ("phone", "+44 20 CALL", "is not a phone number (digits, spaces, ( ) - . and a leading +)"),
        ("enum", "home", None),
        ("enum", "Home", "must be one of home, motor, not 'Home'"),
        ("integer", "42", None),
        ("integer", "101", "must be a whole number from 0 to 100, not 101"),
        ("integer", "-1", "must be a whole number from 0 to 100, not -1"),
        ("integer", "4.5", "is not a whole number"),
        ("date", "2024-02-29", None),
        ("date", "2023-02-29", "is not a date written YYYY-MM-DD"),
        ("date", "29/02/2024", "is not a date written YYYY-MM-DD"),
    ],
)
def test_typed_values(ftype: str, value: str, problem: str | None) -> None:
    assert FIELDS[ftype].problem(value) == problem


def test_every_bad_value_is_reported_with_line_and_column() -> None:
    data = "id,first_name,city,note,personalization_consent\n1,Ann,Leeds,ok,yes\n2,=cmd,Le<b>eds,ok,yes\n=3,Bo,York,www.x.example,no\n"
    with pytest.raises(AudienceImportError) as e:
        parse_csv_(data)
    assert e.value.problems == [
        (3, "'first_name' (column 2) starts with '=', which spreadsheets read as a formula"),
        (3, "'city' (column 3) contains markup (< or an &entity;)"),
        (4, "id starts with '=', which spreadsheets read as a formula"),
        (4, "'note' (column 4) contains a web address"),
    ]
