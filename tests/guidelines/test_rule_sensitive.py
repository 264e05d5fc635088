import pytest

from review.guidelines.testing import hits, one_rule

RULE = "extends: sensitive\nscope: slot\nterms:\n  money_trouble: [payment holiday]\n  pets: [/your (dog|cat)'s illness/]\n"
CREEPY = "extends: sensitive\ncategories: [creepy]\nlevel: warning\nscope: slot\n"


@pytest.mark.parametrize(
    "text, match, label",
    [
        ("Managing your diabetes can be hard", "your diabetes", "health information"),
        ("Since you were diagnosed with asthma", "diagnosed with", "health information"),
        ("As a Muslim you may like", "As a Muslim", "religious belief"),
        ("Celebrate Ramadan with us", "Ramadan", "religious belief"),
        ("Proud of your heritage", "your heritage", "racial or ethnic origin"),
        ("As a gay man", "As a gay", "sex life or sexual orientation"),
        ("Your politics matter", "Your politics", "political opinion"),
        ("Worried about your d3bt?", "your d3bt", "financial difficulty"),
        ("Improve your credit\u00a0score", "your credit\u00a0score", "financial difficulty"),
        ("Take a payment holiday", "payment holiday", "financial difficulty"),
        ("Sorry about your dog's illness", "your dog's illness", "pets"),
    ],
)
def test_sensitive(tmp_path, text, match, label):
    [f] = hits(one_rule(tmp_path, RULE), text, scope="slot")
    assert (f.match, f.message) == (match, f"Reveals or infers {label}: '{match}'.")


@pytest.mark.parametrize("text", ["Thanks for being with us for 5 years, Maria.", "Your home cover renews soon", "Your policy is ready"])
def test_not_sensitive(tmp_path, text):
    assert hits(one_rule(tmp_path, RULE), text, scope="slot") == []


@pytest.mark.parametrize(
    "text, match",
    [
        ("We noticed you looked at travel cover", "We noticed you"),
        ("Since you visited our site", "Since you visited"),
        ("Based on your browsing, here is", "Based on your browsing"),
        ("We n0ticed y0u", "We n0ticed y0u"),
    ],
)
def test_creepy(tmp_path, text, match):
    found = hits(one_rule(tmp_path, CREEPY), text, scope="slot")
    assert [(f.match, f.level) for f in found] == [(match, "warning")]


def test_creepy_only_when_chosen(tmp_path):
    assert hits(one_rule(tmp_path, RULE), "We noticed you", scope="slot") == []
