"""Issue 13 item 10 on the page: a marketer builds a template in a form (insert slot / insert
field, one form per slot, word limits held to the brand's budget) and saves the same .j2 file the
raw editor writes; a demo template saved from the builder unchanged is the same file."""

from __future__ import annotations

from sqlmodel import col, select
from ui_helpers import errors

from review.models import Audience, Brand, TemplateVersion
from review.template_versions import list_templates
from review.templates import parse_template
from ui.template_form import budget, parse_form

PAGE = "ui/pages/templates.py"


def _latest(world) -> TemplateVersion:
    with world.session() as s:
        tv = s.exec(select(TemplateVersion).order_by(col(TemplateVersion.id).desc())).first()
        assert tv is not None
        return tv


def test_the_builder_is_where_the_page_starts_and_a_demo_template_saves_unchanged(app, world):
    with world.session() as s:
        tv = next(tv for t, _, tv in list_templates(s) if t.name == "Policy renewal reminder")
    at = app("maria", page=PAGE)
    assert at.radio(key="tpl_mode_0").value == "Builder"
    at.selectbox(key="tpl_pick").set_value(tv.id).run()
    assert not at.exception
    assert at.text_input(key=f"bf_{tv.id}_name").value == "Policy renewal reminder"
    assert at.multiselect(key=f"bf_{tv.id}_s_opening_inputs").value == ["tenure_years"]
    assert at.number_input(key=f"bf_{tv.id}_s_tip_max_words").value == 28
    at.button(key="tpl_save").click().run()
    assert not at.exception and not errors(at)
    # The same bytes: saving finds the version it already has (same content hash), not a new one.
    saved = _latest(world)
    assert saved.id == tv.id and saved.source == tv.source


def test_a_marketer_builds_a_template_in_the_form(app, world):
    at = app("maria", page=PAGE)
    at.text_input(key="bf_0_name").input("Spring check-in")
    at.text_input(key="bf_0_subject").input("A note for you")
    at.text_area(key="bf_0_body").input("Dear customer,\n\n{{ slots.opening }}\n\nThis is fixed copy the brand approved, long enough for a budget.\n").run()
    at.selectbox(key="bf_0_ins_field").set_value("first_name")
    at.button(key="bf_0_ins_field_btn").click().run()
    assert at.text_area(key="bf_0_body").value.endswith("{{ recipient.first_name }}")
    at.text_input(key="bf_0_new_slot").input("closing")
    at.button(key="bf_0_add_slot").click().run()
    assert not at.exception
    assert "{{ slots.closing }}" in at.text_area(key="bf_0_body").value
    at.text_area(key="bf_0_s_closing_instruction").input("Write one short closing line that mentions the city.")
    at.multiselect(key="bf_0_s_closing_inputs").set_value(["city"]).run()
    assert at.multiselect(key="bf_0_s_closing_must_name").options == ["city"]  # only inputs the slot sees
    at.multiselect(key="bf_0_s_closing_must_name").set_value(["city"])
    at.number_input(key="bf_0_s_closing_max_words").set_value(3)
    at.text_area(key="bf_0_s_closing_examples").input("See you in Bristol.\nHello, Leeds!")
    at.text_input(key="bf_0_s_closing_fallback").input("See you soon.").run()
    assert not at.exception
    # Sensitive fields are never offered as inputs.
    assert "health_condition" not in at.multiselect(key="bf_0_s_closing_inputs").options
    assert any("Valid: 2 slot(s)" in s.value for s in at.success), errors(at)
    at.button(key="tpl_save").click().run()
    assert not at.exception and not errors(at)
    tv = _latest(world)
    spec = parse_template(tv.source)
    assert spec.name == "Spring check-in" and spec.subject == "A note for you"
    assert list(spec.slots) == ["opening", "closing"]
    closing = spec.slots["closing"]
    assert closing.must_name == ("city",)
    assert list(closing.inputs) == ["city"] and closing.max_words == 3 and list(closing.examples) == ["See you in Bristol.", "Hello, Leeds!"]
    assert closing.fallback == "See you soon." and "first_name" in spec.merge_fields
    assert parse_form(tv.source).slots[1].name == "closing"  # the builder reads its own file again


def test_word_limits_are_held_to_the_brands_budget(app, world):
    from review.brands import policy_for

    at = app("maria", page=PAGE)
    limit = at.number_input(key="bf_0_s_opening_max_words")
    with world.session() as s:
        brand = s.exec(select(Brand).where(Brand.slug == "harbor-mutual")).one()
    share = policy_for(brand).max_personalized_share
    built = next(c.value for c in at.code if c.value.startswith("---"))
    most = budget(parse_form(built), share).most_for(limit.value)
    assert limit.max == max(most, limit.value)  # a higher limit is refused by the field itself
    at.text_area(key="bf_0_body").input("{{ slots.opening }}\n").run()  # almost no fixed copy left
    assert any("allows 40%" in w.value for w in at.warning)


def test_the_preview_uses_the_brands_own_audiences(app, world):
    with world.session() as s:
        other = s.exec(select(Brand).where(Brand.slug != "harbor-mutual")).first()
        if other is None:
            other = Brand(slug="northbank", name="Northbank")
            s.add(other)
            s.flush()
        s.add(Audience(name="Another brand's list", brand_id=other.id, created_by=world.user("maria").id))
        s.commit()
    at = app("maria", page=PAGE)
    names = list(at.selectbox(key="tpl_aud").options)
    assert "Harbor Mutual customers (demo)" in names and not any("Another brand" in n for n in names)
