"""relevance: a fill must be about the input value it was given."""

import pytest

from review.guidelines import GuidelineLoadError
from review.guidelines.testing import check, ctx, one_rule

from ._demo_fills import errors, slot_findings

WEBINAR = "Write one sentence naming the webinar topic that fits the reader's therapy-area interest."
MARKETING = "the audience is interested in business and social media marketing"


def _ctx(fill, field, value):
    return ctx(fill, slots={"topic": fill}, slot_inputs={"topic": {field: value}})


def test_off_topic_fill_explains_itself(tmp_path):
    rs = one_rule(tmp_path, "extends: relevance\nfield: therapy_area_interest\nmin_similarity: 0.3\n")
    got = check(rs, _ctx(MARKETING, "therapy_area_interest", "type 2 diabetes"))
    assert [(f.slot, f.level) for f in got] == [("topic", "error")]
    msg = got[0].message
    assert msg.startswith("topic is off topic: it does not read as being about 'type 2 diabetes' (similarity ")
    assert msg.endswith("below 0.30); the slot was given therapy_area_interest=type 2 diabetes")
    good = "Join us to learn practical ways to manage type 2 diabetes day to day."  # 0.69 measured
    assert check(rs, _ctx(good, "therapy_area_interest", "type 2 diabetes")) == []


def test_a_topic_word_is_enough(tmp_path):
    rule = "extends: relevance\nfield: policy_type\nphrase: '{value} insurance'\nmin_similarity: 0.5\n"
    fill = "Check that every window lock works."
    assert len(check(one_rule(tmp_path, rule), _ctx(fill, "policy_type", "home"))) == 1
    assert check(one_rule(tmp_path / "w", rule + "words:\n  home: [lock, locks]\n"), _ctx(fill, "policy_type", "home")) == []


def test_the_threshold_decides(tmp_path):
    fill = "Check the oil and water before a long drive."  # 0.21 against "motor insurance"
    low = one_rule(tmp_path, "extends: relevance\nfield: policy_type\nphrase: '{value} insurance'\nmin_similarity: 0.1\n")
    high = one_rule(tmp_path / "h", "extends: relevance\nfield: policy_type\nphrase: '{value} insurance'\nmin_similarity: 0.4\n")
    assert check(low, _ctx(fill, "policy_type", "motor")) == []
    assert len(check(high, _ctx(fill, "policy_type", "motor"))) == 1


def test_empty_fills_and_slots_without_the_field_are_skipped(tmp_path):
    rs = one_rule(tmp_path, "extends: relevance\nfield: therapy_area_interest\nmin_similarity: 0.9\n")
    assert check(rs, _ctx(MARKETING, "city", "Leeds")) == []
    assert check(rs, _ctx("", "therapy_area_interest", "asthma")) == []
    assert check(rs, _ctx(MARKETING, "therapy_area_interest", "")) == []


@pytest.mark.parametrize(
    "bad, why",
    [("min_similarity: 2\n", "'min_similarity' must be a similarity"), ("field: ' '\n", "'field' must name a slot input"), ("words: [a]\n", "'words' must")],
)
def test_options_are_checked_with_file_and_line(tmp_path, bad, why):
    base = "extends: relevance\n" + ("" if bad.startswith("field") else "field: x\n")
    with pytest.raises(GuidelineLoadError, match=r"r\.yaml:\d+: " + why):
        one_rule(tmp_path, base + bad)


def test_the_rule_never_runs_on_merge_values_or_plain_text(tmp_path):
    rs = one_rule(tmp_path, "extends: relevance\nfield: therapy_area_interest\nmin_similarity: 0.9\n")
    assert rs.check_value(MARKETING) == [] and rs.check_text(MARKETING, "slot", complete=True) == []


# --- the demo brands' rules on real fills ---------------------------------------------------

BAD = [
    ("vitalis-pharma", {"therapy_area_interest": "type 2 diabetes"}, MARKETING),
    ("vitalis-pharma", {"therapy_area_interest": "heart health"}, MARKETING),
    ("vitalis-pharma", {"therapy_area_interest": "asthma"}, "Join us to hear how to plan your holiday budget."),
    ("harbor-mutual", {"policy_type": "motor"}, "Keep notes of your latest business transactions so you can track them easily."),
    ("harbor-mutual", {"policy_type": "motor"}, "Remember to water your plants and keep your garden tidy."),
    ("harbor-mutual", {"policy_type": "travel"}, "Keep your receipts in one folder so your accounts stay tidy."),
    ("northbank", {"account_type": "mortgage"}, "Pack a copy of your passport before your holiday."),
]
GOOD = [
    ("vitalis-pharma", {"therapy_area_interest": "type 2 diabetes"}, "Join us to learn practical ways to manage type 2 diabetes day to day."),
    ("vitalis-pharma", {"therapy_area_interest": "heart health"}, "Our specialists will talk about keeping your heart healthy as you age."),
    ("vitalis-pharma", {"therapy_area_interest": "asthma"}, "Our nurse will explain how to use your inhaler well and spot early warning signs."),
    ("vitalis-pharma", {"therapy_area_interest": "skin conditions"}, "Hear a dermatologist explain how to care for sensitive skin in winter."),
    ("harbor-mutual", {"policy_type": "home"}, "Keep photos of valuable items somewhere safe; they make it easier to describe what you own."),
    ("harbor-mutual", {"policy_type": "home"}, "Know where your stopcock is so you can turn off the water quickly."),
    ("harbor-mutual", {"policy_type": "motor"}, "Check your tyre pressure and tread before a long drive."),
    ("harbor-mutual", {"policy_type": "motor"}, "Keep a note of your registration and mileage somewhere handy."),
    ("harbor-mutual", {"policy_type": "travel"}, "Save our emergency number in your phone before you go away."),
    ("harbor-mutual", {"policy_type": "travel"}, "Keep a copy of your policy number with your passport when you travel abroad."),
    ("northbank", {"account_type": "current"}, "Use the app to see your direct debits and cancel any you no longer need."),
    ("northbank", {"account_type": "savings"}, "Setting a goal for what you are saving towards can help you keep going."),
]


@pytest.mark.parametrize("brand, inputs, fill", BAD)
def test_demo_brands_flag_off_topic_fills(brand, inputs, fill):
    assert "fill-off-topic" in errors(brand, fill, inputs, WEBINAR)


@pytest.mark.parametrize("brand, inputs, fill", GOOD)
def test_demo_brands_pass_on_topic_fills(brand, inputs, fill):
    assert slot_findings(brand, fill, inputs, WEBINAR) == []
