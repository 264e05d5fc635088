import pytest

from review.guidelines.testing import check, ctx, one_rule

RULE = "extends: leak\n"
RECIPIENT = {
    "first_name": "Maria",
    "city": "Leeds",
    "health_condition": "Asthma",
    "tenure_years": "5",
    "preferred_channel": "email",
    "email": "maria@example.com",
}


def leaks(tmp_path, slot_text, given):
    c = ctx("x", slots={"s": slot_text}, slot_inputs={"s": given}, recipient=RECIPIENT)
    return [(f.match, f.slot, f.span, f.message) for f in check(one_rule(tmp_path, RULE), c)]


@pytest.mark.parametrize(
    "text, given, match",
    [
        ("Hello Maria!", {"city": "Leeds"}, "Maria"),
        ("Hello MARIA", {}, "MARIA"),
        ("Hello M\u0430ria", {}, "M\u0430ria"),  # Cyrillic а
        ("Breathe easy with asthma cover", {"first_name": "Maria"}, "asthma"),
        ("We'll email maria@example.com", {"first_name": "Maria"}, "maria@example.com"),
    ],
)
def test_leaks(tmp_path, text, given, match):
    [(m, slot, span, message)] = leaks(tmp_path, text, given)
    assert (m, slot, text[span[0] : span[1]]) == (match, "s", match)
    assert "which this slot was not given" in message


@pytest.mark.parametrize(
    "text, given",
    [
        ("Hello Maria", {"first_name": "Maria"}),
        ("Life in Leeds", {"city": "Leeds"}),
        ("Thanks for being with us for 5 years", {}),  # '5' is too short to count
        ("We'll send it by email", {}),  # common value
        ("Mariana is our agent", {}),  # word boundary
    ],
)
def test_no_leak(tmp_path, text, given):
    assert leaks(tmp_path, text, given) == []


def test_no_consent_variant_has_no_inputs(tmp_path):
    c = ctx("x", slots={"s": "Hi Maria"}, slot_inputs={"s": {}}, recipient=RECIPIENT, personalized=False)
    assert [f.match for f in check(one_rule(tmp_path, RULE), c)] == ["Maria"]
