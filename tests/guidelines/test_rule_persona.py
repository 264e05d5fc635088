import pytest

from review.guidelines.testing import hits, one_rule

from ._demo_fills import errors

RULE = "extends: persona\nscope: slot\n"


@pytest.mark.parametrize(
    "text, found",
    [
        ("I'm here for you whenever you need us.", ["I'm here for you"]),
        ("As an AI, I cannot know your city.", ["As an AI", "I cannot"]),
        ("I think a smoke alarm is a good idea.", ["I think"]),
        ("Thanks for staying with me for 5 years.", ["me"]),
        ("My team will call you soon.", ["My"]),
        ("We're here whenever you need us.", []),
        ("Thank you for choosing Harbor Mutual.", []),
        ("Our team will check your MOT and tyres.", []),  # no "I" inside a word
    ],
)
def test_cases(tmp_path, text, found):
    assert [f.match for f in hits(one_rule(tmp_path, RULE), text, "slot")] == found


def test_message_explains(tmp_path):
    got = hits(one_rule(tmp_path, RULE), "I'll send you the documents.", "slot")
    assert [f.message for f in got] == ["'I'll' speaks as one person; the brand speaks as 'we'"]


def test_first_person_off_and_extra_phrases(tmp_path):
    rs = one_rule(tmp_path, RULE + "first_person: false\nextra_phrases: [happy to help]\n")
    assert [f.match for f in hits(rs, "My team is happy to help.", "slot")] == ["happy to help"]


def test_demo_brands():
    assert "fill-persona" in errors("vitalis-pharma", "I'm here for you if you want to learn more.", {"therapy_area_interest": ""})
    assert "fill-persona" not in errors("vitalis-pharma", "We are here if you want to learn more.", {})
