import pytest

from review.guidelines.rules.readability import grade
from review.guidelines.testing import hits, one_rule

RULE = "extends: readability\ngrade: 9\nmin_words: 10\n"
EASY = "We are here to help. Call us when you like. We will talk it through with you. It is your choice."
HARD = (
    "Notwithstanding the aforementioned contractual stipulations, policyholders' indemnification entitlements "
    "are predominantly contingent upon comprehensive substantiation of circumstantial documentation and "
    "subsequent adjudication by underwriting professionals."
)


@pytest.mark.parametrize("text, flagged", [(EASY, False), (HARD, True), ("Too short to score, really.", False)])
def test_grade_ceiling(tmp_path, text, flagged):
    found = hits(one_rule(tmp_path, RULE), text)
    assert bool(found) == flagged
    if flagged:
        assert found[0].span is None and found[0].message.startswith("Reading grade is ")


def test_grade_is_monotonic():
    assert grade(EASY) < 6 < 15 < grade(HARD)
