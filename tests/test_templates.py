"""Template parsing, validation and rendering."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from review.brands import BrandPolicy, load_brand
from review.errors import TemplateError
from review.fields import FieldSpec
from review.templates import parse_template, render

POLICY = BrandPolicy(
    slug="t",
    name="Test",
    industry="x",
    max_slots=2,
    allowed_fields=("first_name", "city", "tier"),
    sensitive_fields=("health_condition", "religion"),
)

GOOD = """---
name: Hello
subject: "Hi {{ recipient.first_name }}"
slots:
  opening:
    instruction: Say hello mentioning the city.
    inputs: [city]
    max_words: 12
    examples: ["Hello to everyone in Leeds."]
    fallback: Hello from us.
---
Dear {{ recipient.first_name }},
{{ slots.opening }}
Fixed copy here.
"""


def with_body(front_slots: str, body: str) -> str:
    return f"---\nname: T\nslots:\n{front_slots}---\n{body}"


SLOT_A = "  a:\n    instruction: x\n    inputs: [city]\n    max_words: 5\n    fallback: hi\n"


def test_good_template_parses() -> None:
    spec = parse_template(GOOD, POLICY)
    assert spec.slot_order == ("opening",)
    assert spec.merge_fields == ("first_name",)
    assert spec.slot_fields() == ("city",)
    assert spec.slots["opening"].max_words == 12


@pytest.mark.parametrize(
    "source, line, fragment",
    [
        (GOOD.replace("{{ slots.opening }}", "{{ slots.opening }"), 13, "syntax error"),
        (GOOD.replace("{% if", "").replace("Fixed copy here.", "{% if recipient.city %}no end"), 14, "syntax error"),
        (GOOD.replace("{{ slots.opening }}", "{{ slots.opening }} {{ slots.extra }}"), 13, "'extra' is used but not declared"),
        (GOOD.replace("{{ slots.opening }}", ""), 5, "'opening' is declared but never used"),
        (GOOD.replace("inputs: [city]", "inputs: [postcode]"), 7, "'postcode', which is not in brand"),
        (GOOD.replace("inputs: [city]", "inputs: [health_condition]"), 7, "sensitive field"),
        (GOOD.replace("Dear {{ recipient.first_name }}", "Dear {{ recipient.religion }}"), 12, "sensitive field"),
        (GOOD.replace("Dear {{ recipient.first_name }}", "Dear {{ recipient.surname }}"), 12, "'surname', which is not in brand"),
        (GOOD.replace("Fixed copy here.", "{{ config.SECRET }}"), 14, "unknown name 'config'"),
        (GOOD.replace("max_words: 12", "max_words: lots"), 8, "'max_words' must be a whole number"),
        (GOOD.replace("    fallback: Hello from us.\n", ""), 5, "'fallback' is required"),
        (GOOD.replace("name: Hello", "name: [unclosed"), 3, "not valid YAML"),
        (GOOD.replace("subject:", "colour: red\nsubject:"), 3, "unknown front matter key 'colour'"),
        (GOOD.replace("fallback: Hello from us.", "fallback: " + "word " * 13), 10, "more than max_words"),
        ("no front matter", 1, "must start with a '---'"),
        (
            with_body(SLOT_A + SLOT_A.replace("  a:", "  b:") + SLOT_A.replace("  a:", "  c:"), "{{ slots.a }}{{ slots.b }}{{ slots.c }}"),
            3,
            "3 slots declared but brand 'Test' allows at most 2",
        ),
    ],
)
def test_refusals_name_the_line(source: str, line: int, fragment: str) -> None:
    with pytest.raises(TemplateError) as e:
        parse_template(source, POLICY, name="t.j2")
    assert fragment in str(e.value)
    assert e.value.line == line, str(e.value)
    assert str(e.value).startswith(f"t.j2, line {line}:")


def test_render_keeps_fixed_copy_apart_and_treats_slot_text_as_data() -> None:
    spec = parse_template(GOOD, POLICY)
    hostile = "{{ recipient.__class__ }} {% raw %}"
    out = render(spec, {"first_name": "Ana", "city": "Leeds"}, {"opening": hostile})
    assert hostile in out.body  # printed verbatim, never evaluated
    assert out.fixed_segments == ("Dear Ana,\n", "\nFixed copy here.\n")
    assert out.slot_sequence == ("opening",)
    assert out.subject == "Hi Ana"


def test_python_internals_are_refused_at_save_and_by_the_sandbox() -> None:
    src = GOOD.replace("Fixed copy here.", "{{ recipient.first_name.__class__.__mro__ }}")
    with pytest.raises(TemplateError, match="line 14: attribute access is only allowed as recipient"):
        parse_template(src, POLICY, name="t.j2")
    # A stored version that predates the vetting still meets the sandbox when rendered.
    spec = parse_template(GOOD, POLICY)
    old = dataclasses.replace(spec, body="{{ recipient.first_name.__class__.__mro__ }}{{ slots.opening }}")
    with pytest.raises(TemplateError, match="sandbox|cannot render"):
        render(old, {"first_name": "Ana", "city": "Leeds"}, {"opening": "x"})


def test_missing_field_is_an_error_not_blank() -> None:
    spec = parse_template(GOOD, POLICY)
    with pytest.raises(TemplateError, match="first_name"):
        render(spec, {"city": "Leeds"}, {"opening": "x"})


def test_demo_templates_are_valid_for_their_brand() -> None:
    root = Path(__file__).parent.parent
    for tpl in (root / "templates").glob("*/*.j2"):
        policy = load_brand(root / "brand_guidelines" / tpl.parent.name)
        spec = parse_template(tpl.read_text(encoding="utf-8"), policy, name=str(tpl))
        assert spec.slots, tpl


def test_demo_and_fixture_templates_render_exactly_as_plain_jinja() -> None:
    """The vetting, the bounded sandbox and the render caps change nothing for real templates."""
    import jinja2

    from review.templates import _split_front_matter

    root = Path(__file__).parent.parent
    plain = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    recipient = {"first_name": "Zoë", "last_name": "O'Brien", "city": "Leeds", "policy_type": "home", "tenure_years": "3", "age_band": "18-34"}
    cases = [(t, root / "brand_guidelines" / t.parent.name) for t in (root / "templates").glob("*/*.j2")]
    cases.append((root / "tests" / "fixtures" / "templates" / "acme-newsletter.j2", root / "tests" / "fixtures" / "brands" / "acme-pharma"))
    for tpl, brand_dir in cases:
        source = tpl.read_text(encoding="utf-8")
        policy = load_brand(brand_dir)
        spec = parse_template(source, policy, name=str(tpl))
        slots = {k: f"<{k} text>" for k in spec.slots}
        out = render(spec, recipient, slots, policy.as_render_context())
        _, body, _ = _split_front_matter(source, "x")
        ctx = {"recipient": recipient, "slots": slots, "brand": policy.as_render_context()}
        assert out.body == plain.from_string(body).render(**ctx), tpl
        assert out.subject == plain.from_string(spec.subject).render(**ctx).strip(), tpl


def test_fallback_words_are_counted_like_the_length_rule() -> None:
    """One word count for the project: the fallback limit counts words as the length rule does
    (a dash is not a word; "we're" is one)."""
    from review.guidelines.rule import word_count

    fallback = "Stay safe — we're here to help."
    assert word_count(fallback) == 6 and len(fallback.split()) == 7
    ok = GOOD.replace("max_words: 12", "max_words: 6").replace("fallback: Hello from us.", f'fallback: "{fallback}"')
    assert parse_template(ok, POLICY).slots["opening"].fallback == fallback
    with pytest.raises(TemplateError, match=r"more than max_words \(5\)"):
        parse_template(ok.replace("max_words: 6", "max_words: 5"), POLICY)


# ---------------------------------------------------------------------------- slot modes

MODES_POLICY = dataclasses.replace(POLICY, fields=(FieldSpec("tier", type="enum", values=("gold", "silver")),))
MODES = """---
name: Modes
slots:
  opening:
    mode: adapt
    base: Hello from all of us.
    inputs: [city]
    max_words: 12
  tip:
    mode: choose
    inputs: [tier, city]
    max_words: 10
    alternatives:
      - text: Gold members get priority support.
        when: {tier: gold}
      - text: Silver members can upgrade any time.
        when: {tier: [silver], city: Leeds}
      - Thanks for reading.
    fallback: Thanks for reading.
---
{{ slots.opening }}
{{ slots.tip }}
Fixed copy here.
"""


def test_modes_parse_with_their_approved_texts() -> None:
    spec = parse_template(MODES, MODES_POLICY)
    opening, tip = spec.slots["opening"], spec.slots["tip"]
    assert (opening.mode, opening.base, opening.fallback) == ("adapt", "Hello from all of us.", "Hello from all of us.")  # base is the default fallback
    assert tip.mode == "choose" and tip.instruction == ""
    assert [a.text for a in tip.alternatives] == ["Gold members get priority support.", "Silver members can upgrade any time.", "Thanks for reading."]
    assert tip.alternatives[1].when == (("tier", ("silver",)), ("city", ("Leeds",)))
    assert tip.alternatives[1].matches({"tier": "Silver", "city": "leeds"}) and not tip.alternatives[1].matches({"tier": "silver", "city": "York"})
    assert parse_template(GOOD, POLICY).slots["opening"].mode == "write"
    # The fill cache key's part: the mode and every approved text.
    assert tip.approved_texts()["alternatives"][0] == ["Gold members get priority support.", [["tier", ["gold"]]]]


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("mode: adapt", "mode: rewrite", 5, "'mode' must be one of write, adapt, choose, not 'rewrite'"),
        ("    base: Hello from all of us.\n", "", 4, "mode adapt needs 'base'"),
        ("base: Hello from all of us.", "base: " + "word " * 13, 6, "the base has more than max_words"),
        ("    inputs: [city]\n    max_words: 12\n", "    max_words: 12\n", 4, "mode adapt needs 'inputs'"),
        (MODES[MODES.index("    alternatives:") : MODES.index("    fallback: Thanks")], "", 9, "mode choose needs 'alternatives'"),
        ("        when: {tier: gold}", "        when: {first_name: Ann}", 15, "'when' names 'first_name', which is not one of the slot's inputs (tier, city)"),
        ("        when: {tier: gold}", "        when: {tier: platinum}", 15, "'platinum' is not a value of tier (gold, silver)"),
        ("        when: {tier: gold}", "        when: tier", 15, "'when' must map input fields"),
        ("      - Thanks for reading.", "      - {text: Thanks, if: x}", 18, "alternative 3 must be a text, or a mapping"),
        ("      - Thanks for reading.", "      - " + "word " * 11, 18, "alternative 3 has more than max_words"),
        ("    mode: adapt\n", "    mode: adapt\n    alternatives: [Hi.]\n", 6, "'alternatives' only applies to mode: choose"),
        ("    mode: choose\n", "    mode: choose\n    base: Hi.\n", 11, "'base' only applies to mode: adapt"),
    ],
)
def test_mode_refusals_name_the_line(old: str, new: str, line: int, fragment: str) -> None:
    assert old in MODES
    with pytest.raises(TemplateError) as e:
        parse_template(MODES.replace(old, new, 1), MODES_POLICY, name="m.j2")
    assert fragment in str(e.value)
    assert e.value.line == line, str(e.value)


def test_a_write_slot_still_needs_its_instruction() -> None:
    with pytest.raises(TemplateError, match="'instruction' is required") as e:
        parse_template(GOOD.replace("    instruction: Say hello mentioning the city.\n", ""), POLICY, name="g.j2")
    assert e.value.line == 5


def test_must_name_lists_inputs_and_reaches_the_check_context() -> None:
    src = MODES.replace("    inputs: [city]\n", "    inputs: [city]\n    must_name: [city]\n", 1)
    spec = parse_template(src, MODES_POLICY)
    assert spec.slots["opening"].must_name == ("city",) and spec.slots["tip"].must_name == ()
    alternatives = ("Gold members get priority support.", "Silver members can upgrade any time.", "Thanks for reading.")
    assert spec.slots["tip"].approved_wording() == ("Thanks for reading.", *alternatives)
    assert spec.slots["opening"].approved_wording() == ("Hello from all of us.", "Hello from all of us.")


@pytest.mark.parametrize(
    ("decl", "fragment"),
    [
        ("    must_name: [tier]\n", "'must_name' lists 'tier', which is not one of the slot's inputs (city)"),
        ("    must_name: {city: yes}\n", "'must_name' must be a list of the slot's inputs"),
    ],
)
def test_must_name_refusals_name_the_line(decl: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as e:
        parse_template(MODES.replace("    inputs: [city]\n", "    inputs: [city]\n" + decl, 1), MODES_POLICY, name="m.j2")
    assert fragment in str(e.value) and e.value.line == 8, str(e.value)
