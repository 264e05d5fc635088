"""brand.yaml: typed personalization fields, validated with file:line; the older untyped list still works."""

from __future__ import annotations

import pytest

from review.brands import load_brand
from review.errors import ConfigError
from review.fields import FieldSpec

HEAD = "name: B\npersonalization:\n"


def brand(tmp_path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "b").mkdir(exist_ok=True)
    (tmp_path / "b" / "brand.yaml").write_text(HEAD + text, encoding="utf-8")
    return load_brand(tmp_path / "b")


def test_typed_fields(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = brand(tmp_path, "  fields:\n    first_name: {type: name, max_length: 40}\n    tier: {type: enum, values: [gold, silver]}\n    age: integer\n")
    assert p.allowed_fields == ("first_name", "tier", "age")
    assert p.field_spec("tier") == FieldSpec("tier", "enum", 60, ("gold", "silver"))
    assert p.field_spec("age") == FieldSpec("age", "integer", 18)
    assert p.field_spec("religion") is None and p.field_spec("shoe_size") is None


def test_the_older_allowed_fields_are_text(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = brand(tmp_path, "  allowed_fields: [first_name, city]\n")
    assert p.field_spec("city") == FieldSpec("city", "text", 200)


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("  fields:\n    first_name: {type: nickname}\n", 4, "field 'first_name': 'type' must be one of name, text, email, phone, city, enum, integer, date"),
        ("  fields:\n    tier: {type: enum}\n", 4, "field 'tier': an enum needs 'values'"),
        ("  fields:\n    tier:\n      type: enum\n      values: ['=cmd']\n", 6, "field 'tier': value '=cmd' is not a plain one-line text"),
        ("  fields:\n    age:\n      type: integer\n      min: 5\n      max: 1\n", 6, "field 'age': 'min' is larger than 'max'"),
        ("  fields:\n    a:\n      type: name\n      max_length: 5000\n", 6, "field 'a': 'max_length' must be a whole number from 1 to 500"),
        ("  fields:\n    a:\n      type: name\n      colour: red\n", 6, "field 'a': unknown key 'colour'"),
        ("  fields:\n    First Name: name\n", 4, "field name 'First Name' must be lower_snake_case"),
        ("  fields:\n    religion: text\n", 4, "field 'religion' is both allowed and sensitive"),
        ("  allowed_fields: [a]\n  fields:\n    b: text\n", 3, "give 'fields' (typed) or 'allowed_fields'"),
        ("  fields: [a, b]\n", 3, "'fields' must map each field name to its type"),
    ],
)
def test_mistakes_name_the_file_and_line(tmp_path, text: str, line: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as e:
        brand(tmp_path, text)
    assert str(e.value).startswith(f"{tmp_path / 'b' / 'brand.yaml'}:{line}: {reason}"), str(e.value)
