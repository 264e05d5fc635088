"""Audiences page: CSV upload, preview, row-by-row error report, import."""

from __future__ import annotations

from sqlmodel import select
from ui_helpers import errors

from review.models import Audience

GOOD = b"id,first_name,city,personalization_consent\nA1,Ana,Leeds,yes\nA2,Ben,Bristol,no\nA3,Cy,Cardiff,yes\n"
BAD = b"id,first_name,city,personalization_consent\nA1,Ana,Leeds,yes\nA1,Ben,Bristol,no\nA3,Cy,Cardiff,maybe\nA4,Dee\n"
PAGE = "ui/pages/audiences.py"


def test_upload_preview_and_import(app, world):
    at = app("maria", page=PAGE)
    assert "Harbor Mutual customers (demo)" in set(next(df for df in at.dataframe if "Audience" in df.value.columns).value["Audience"])
    at.file_uploader(key="aud_file").upload("spring.csv", GOOD, "text/csv")
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "3" and metrics["With personalization consent"] == "2"
    assert at.text_input(key="aud_name_spring.csv").value == "spring"
    at.text_input(key="aud_name_spring.csv").input("Spring list")
    at.button(key="aud_import").click().run()
    assert not at.exception
    with world.session() as s:
        aud = s.exec(select(Audience).where(Audience.name == "Spring list")).one()
    assert aud.row_count == 3 and aud.consent_count == 2
    assert world.events("audience_imported")[-1].after["name"] == "Spring list"


def test_bad_rows_are_reported_line_by_line(app, world):
    at = app("maria", page=PAGE)
    at.file_uploader(key="aud_file").upload("bad.csv", BAD, "text/csv")
    at.run()
    assert not at.exception
    assert errors(at) == ["bad.csv: 3 problem(s); nothing can be imported until they are fixed."]
    problems = next(df for df in at.dataframe if "Problem" in df.value.columns).value
    assert list(problems["Line"]) == [3, 4, 5]
    assert "duplicate id 'A1'" in problems["Problem"][0]
    assert not [b for b in at.button if b.key == "aud_import"]


def test_duplicate_name_is_refused(app, world):
    at = app("maria", page=PAGE)
    at.file_uploader(key="aud_file").upload("again.csv", GOOD, "text/csv")
    at.run()
    at.text_input(key="aud_name_again.csv").input("Harbor Mutual customers (demo)")
    at.button(key="aud_import").click().run()
    assert not at.exception
    assert errors(at) == ["an audience named 'Harbor Mutual customers (demo)' already exists"]


def test_the_audience_belongs_to_the_brand_picked_and_drops_what_it_does_not_allow(app, world):
    from review.models import Brand

    at = app("maria", page=PAGE)
    at.selectbox(key="aud_brand").select("northbank").run()
    at.file_uploader(key="aud_file").upload("nb.csv", b"id,first_name,credit_score,personalization_consent\nA1,Ana,700,yes\n", "text/csv")
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["Dropped at import: 'credit_score' (sensitive for Northbank: never stored)"]
    at.button(key="aud_import").click().run()
    assert not at.exception
    with world.session() as s:
        aud = s.exec(select(Audience).where(Audience.name == "nb")).one()
        assert s.get(Brand, aud.brand_id).slug == "northbank"
    assert aud.fields == ["first_name"]
