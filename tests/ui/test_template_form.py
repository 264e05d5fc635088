"""Issue 13 item 10: the template builder's model reads every demo template and writes it back
byte for byte, writes the same .j2 format the raw editor reads, and keeps word limits within the
brand's personalization budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from review.brands import load_brand
from review.templates import parse_template
from ui.template_form import FormUnsupported, SlotForm, budget, field_tag, parse_form, slot_tag, write_form

ROOT = Path(__file__).resolve().parents[2]
DEMO_TEMPLATES = sorted((ROOT / "templates").rglob("*.j2"))


@pytest.mark.parametrize("path", DEMO_TEMPLATES, ids=lambda p: p.name)
def test_every_demo_template_round_trips_unchanged(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    form = parse_form(source)
    assert write_form(form) == source
    assert form.slots and form.name


def test_demo_templates_exist() -> None:
    assert len(DEMO_TEMPLATES) >= 2


def test_an_edited_form_writes_a_template_the_parser_accepts() -> None:
    policy = load_brand(ROOT / "brand_guidelines" / "harbor-mutual")
    form = parse_form((ROOT / "templates" / "harbor-mutual" / "home-welcome.j2").read_text(encoding="utf-8"))
    form.name = "Welcome: home & contents"  # needs quoting
    form.slots.append(
        SlotForm("tip", instruction="Write one tip: short.", inputs=["policy_type"], max_words=12, examples=["- a dash first", "plain"], fallback="#1 tip")
    )
    form.body += f"\n{slot_tag('tip')}\nSee you soon, {field_tag('first_name')}.\n"
    spec = parse_template(write_form(form), policy)
    assert spec.name == "Welcome: home & contents"
    assert list(spec.slots["tip"].examples) == ["- a dash first", "plain"] and spec.slots["tip"].fallback == "#1 tip"
    assert list(spec.slots["tip"].inputs) == ["policy_type"] and spec.slots["tip"].max_words == 12
    assert "first_name" in spec.merge_fields
    assert parse_form(write_form(form)).slots[-1] == form.slots[-1]  # and the builder reads it again


def test_front_matter_the_builder_does_not_write_stays_with_the_raw_editor() -> None:
    with pytest.raises(FormUnsupported):
        parse_form("---\nname: x\nchannel: email\nextra: 1\n---\nbody\n")
    with pytest.raises(FormUnsupported):
        parse_form("---\nname: x\nslots:\n  a:\n    instruction: >\n      folded\n    inputs: []\n    max_words: 3\n    fallback: y\n---\n{{ slots.a }}\n")


def test_the_budget_refuses_limits_that_break_the_brands_share() -> None:
    source = (ROOT / "templates" / "harbor-mutual" / "renewal-reminder.j2").read_text(encoding="utf-8")
    form = parse_form(source)
    b = budget(form, 0.4)
    # Both slots written to their limits would make 42% of the message personalized: more than
    # Harbor Mutual's 40%, so the builder warns and lets no limit grow.
    assert b.slot_words == 22 + 28 and b.fixed_words > 0 and not b.ok
    most = b.most_for(form.slots[0].max_words)
    assert most is not None and 0 < most < 22
    form.slots[0].max_words = most
    assert budget(form, 0.4).ok
    form.slots[0].max_words = most + 1
    assert not budget(form, 0.4).ok
    assert budget(form, None).ok


def test_must_name_round_trips_and_an_edit_writes_it_for_the_parser() -> None:
    policy = load_brand(ROOT / "brand_guidelines" / "harbor-mutual")
    source = (ROOT / "templates" / "harbor-mutual" / "home-welcome.j2").read_text(encoding="utf-8")
    with_it = source.replace("    inputs: [city]\n", "    inputs: [city]\n    must_name: [city]\n", 1)
    form = parse_form(with_it)
    assert form.slots[0].must_name == ["city"] and write_form(form) == with_it  # byte for byte
    assert parse_template(write_form(form), policy).slots["welcome"].must_name == ("city",)
    form.slots[0].must_name = None  # the builder's "none chosen": the key is not written
    assert "must_name" not in write_form(form) and parse_template(write_form(form), policy).slots["welcome"].must_name == ()
    with pytest.raises(FormUnsupported):  # a block list is the raw editor's
        parse_form(source.replace("    inputs: [city]\n", "    inputs: [city]\n    must_name:\n      - city\n", 1))
