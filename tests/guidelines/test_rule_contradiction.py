"""contradiction: a fill about another value of its input field than the one it was given."""

import pytest

from review.guidelines import GuidelineLoadError
from review.guidelines.testing import check, ctx, one_rule

from ._demo_fills import errors, slot_findings

RULE = """\
extends: contradiction
field: policy_type
phrase: "{value} insurance"
words:
  home: [smoke alarm, smoke alarms]
  motor: [driver's licence, driver's license, tyres]
"""
HOME_DRIVING = "Please get your driver's license if you're going to a certain location, then get your driver's licenses at the nearest school."


def _ctx(fill, value, values=("home", "motor", "travel")):
    return ctx(fill, slots={"tip": fill}, slot_inputs={"tip": {"policy_type": value}}, field_values={"policy_type": tuple(values)})


def test_a_word_of_another_value_explains_itself(tmp_path):
    got = check(one_rule(tmp_path, RULE), _ctx(HOME_DRIVING, "home"))
    assert [(f.match, f.slot, f.level) for f in got] == [("driver's license", "tip", "error")]
    assert got[0].message == "tip is about motor ('driver's license'); the slot was given policy_type=home"
    assert HOME_DRIVING[got[0].span[0] : got[0].span[1]] == "driver's license"


def test_its_own_word_wins(tmp_path):
    assert check(one_rule(tmp_path, RULE), _ctx("Check your tyres and your smoke alarms.", "home")) == []


def test_the_embedding_finds_another_value_by_a_margin(tmp_path):
    # No listed word: servicing the engine reads as motor insurance, not home (0.25 vs 0.11 measured).
    fill = "Keep your engine serviced and check the oil before long drives."
    rule = RULE + "margin: 0.08\nmin_similarity: 0.2\n"
    got = check(one_rule(tmp_path, rule), _ctx(fill, "home", ("home", "motor")))
    assert len(got) == 1 and got[0].message.startswith("tip is about motor (similarity ")
    assert got[0].message.endswith("; the slot was given policy_type=home")
    # a margin nobody reaches reports nothing
    wide = one_rule(tmp_path / "wide", rule.replace("0.08", "0.9"))
    assert check(wide, _ctx(fill, "home", ("home", "motor"))) == []
    assert check(one_rule(tmp_path / "own", rule), _ctx(fill, "motor", ("home", "motor"))) == []


def test_without_other_values_there_is_nothing_to_contradict(tmp_path):
    # the rule's own `words` still name motor as another value
    assert [f.match for f in check(one_rule(tmp_path, RULE), _ctx(HOME_DRIVING, "home", values=()))] == ["driver's license"]
    plain = "extends: contradiction\nfield: policy_type\n"
    assert check(one_rule(tmp_path / "p", plain), _ctx("Plan your route before you set off.", "home", values=())) == []


def test_slots_not_given_the_field_are_skipped(tmp_path):
    c = ctx(HOME_DRIVING, slots={"tip": HOME_DRIVING}, slot_inputs={"tip": {"city": "Leeds"}}, field_values={"policy_type": ("home", "motor")})
    assert check(one_rule(tmp_path, RULE), c) == []


@pytest.mark.parametrize("bad, why", [("phrase: insurance\n", "must contain {value}"), ("margin: 3\n", "'margin' must be a similarity")])
def test_options_are_checked_with_file_and_line(tmp_path, bad, why):
    with pytest.raises(GuidelineLoadError, match=r"r\.yaml:\d+: .*" + why.replace("{", r"\{").replace("}", r"\}")):
        one_rule(tmp_path, "extends: contradiction\nfield: policy_type\n" + bad)


# --- the demo brands' rules on real fills ---------------------------------------------------

BAD = [
    ("harbor-mutual", "home", HOME_DRIVING),
    ("harbor-mutual", "home", "Pack a copy of your passport in your hand luggage."),
    ("harbor-mutual", "motor", "Test your smoke alarms every month."),
    ("harbor-mutual", "travel", "Check your loft insulation before the cold weather arrives."),
    ("harbor-mutual", "home", "Plan your route and check the traffic before you set off."),
    ("harbor-mutual", "travel", "Keep your receipts in one folder so your accounts stay tidy."),
    ("northbank", "savings", "Remember to pay off your credit card balance in full each month."),
    ("northbank", "mortgage", "Pack a copy of your passport before your holiday."),
]
GOOD = [
    ("harbor-mutual", "home", "Keep photos of valuable items somewhere safe; they make it easier to describe what you own."),
    ("harbor-mutual", "home", "Take photos of each room so you have a record of what you own."),
    ("harbor-mutual", "motor", "Check that your named drivers are up to date before a long trip."),
    ("harbor-mutual", "motor", "Keep a warm coat, a torch and a phone charger in your car in winter."),
    ("harbor-mutual", "travel", "Pack any medicines in your hand luggage with a copy of the prescription."),
    ("harbor-mutual", "travel", "Check the health advice for your destination before you book."),
    ("northbank", "savings", "Set up a standing order on payday so a little goes into savings automatically."),
    ("northbank", "mortgage", "It is worth checking when your current deal ends so you can plan ahead."),
    ("northbank", "credit card", "Paying more than the minimum each month reduces the interest you pay."),
]
FIELD = {"harbor-mutual": "policy_type", "northbank": "account_type"}


@pytest.mark.parametrize("brand, value, fill", BAD)
def test_demo_brands_flag_fills_about_another_value(brand, value, fill):
    assert "fill-contradicts-" + ("policy" if brand == "harbor-mutual" else "account") in errors(brand, fill, {FIELD[brand]: value})


@pytest.mark.parametrize("brand, value, fill", GOOD)
def test_demo_brands_pass_fills_about_their_value(brand, value, fill):
    assert [f.message for f in slot_findings(brand, fill, {FIELD[brand]: value}) if "contradicts" in f.rule] == []
