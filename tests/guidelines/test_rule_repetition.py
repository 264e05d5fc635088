import pytest

from review.guidelines import GuidelineLoadError
from review.guidelines.testing import hits, one_rule

from ._demo_fills import errors

RULE = "extends: repetition\nscope: slot\n"
DRIVING = "Please get your driver's license if you're going to a certain location, then get your driver's licenses at the nearest school."


def test_a_repeated_phrase_is_found_whole(tmp_path):
    got = hits(one_rule(tmp_path, RULE), DRIVING, "slot")
    assert [(f.match, f.message, f.level) for f in got] == [("get your driver's licenses", "repeats 'get your driver's license'", "error")]
    assert DRIVING[got[0].span[0] : got[0].span[1]] == "get your driver's licenses"


@pytest.mark.parametrize(
    "text, found",
    [
        ("Check your smoke alarms, and check your smoke alarms again in spring.", ["check your smoke alarms"]),
        ("Welcome to the the family.", ["the the"]),
        ("Keep your keys safe and keep your documents in one place.", []),  # "keep your" is two words
        ("It is good to know that it is good for you.", ["it is good"]),
        ("Test your alarms, then test the batteries, then test the door.", ["then test the"]),
    ],
)
def test_cases(tmp_path, text, found):
    rs = one_rule(tmp_path, RULE)
    assert [f.match.lower() for f in hits(rs, text, "slot")] == found


def test_doubled_words_can_be_switched_off(tmp_path):
    text = "Had had enough? That that is fine."  # English, rarely: a brand may allow it
    assert [f.match for f in hits(one_rule(tmp_path, RULE), text, "slot")] == ["Had had", "That that"]
    assert hits(one_rule(tmp_path / "off", RULE + "doubled_words: false\n"), text, "slot") == []


def test_min_words(tmp_path):
    text = "Keep your keys safe and keep your documents in one place."
    assert [f.match for f in hits(one_rule(tmp_path, RULE + "min_words: 2\n"), text, "slot")] == ["keep your"]
    assert hits(one_rule(tmp_path / "three", RULE), text, "slot") == []
    with pytest.raises(GuidelineLoadError, match=r"r\.yaml:3: 'min_words' must be at least 2"):
        one_rule(tmp_path / "bad", RULE + "min_words: 1\n")


def test_demo_brands():
    assert "fill-repetition" in errors("harbor-mutual", DRIVING, {"policy_type": "home"})
    assert "fill-repetition" not in errors("harbor-mutual", "Test your smoke alarms every month and keep your gutters clear.", {"policy_type": "home"})
