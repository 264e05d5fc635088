import pytest

from review.guidelines.testing import hits, one_rule

RULE = """
extends: conditional
when: ['/\\d+(\\.\\d+)?\\s?%/', interest rate]
require: [Representative APR, '/\\bAER\\b/']
message: "A rate ('%s') needs its '%s' footnote."
"""


@pytest.mark.parametrize(
    "text, flagged",
    [
        ("Borrow at 6.9% today.", "6.9%"),
        ("A great interest rate.", "interest rate"),
        ("Borrow at 6.9% today. 6.9% Representative APR.", None),
        ("Save at 4.1 % AER.", None),
        ("No rates mentioned.", None),
        ("Thanks for being with us for 5 years, Maria.", None),
    ],
)
def test_rate_needs_footnote(tmp_path, text, flagged):
    found = hits(one_rule(tmp_path, RULE), text)
    assert [f.match for f in found] == ([flagged] if flagged else [])
    if flagged:
        assert found[0].message == f"A rate ('{flagged}') needs its 'Representative APR' footnote."
        assert found[0].suggestion == "Representative APR"
