"""grounding and the claims library: numbers a slot quotes from an ACTIVE approved claim are grounded."""

import pytest

from review.guidelines import load_ruleset
from review.guidelines.rules.grounding import claim_figures
from review.guidelines.testing import GUIDELINES, brand, check, ctx

CLAIMS = """\
- id: HM-001
  wording: "Rated 4.8 out of 5 by our customers on Trustpilot"
  status: active
- id: HM-002
  wording: "9 out of 10 home claims settled within 10 working days"
  status: active
- id: HM-004
  wording: "Over 50 years of looking after homes"
  status: active
- id: HM-009
  wording: "Rated 4.6 out of 5 by our customers"
  status: retired
"""


def numbers(tmp_path, fill, given=None):
    rs = brand(tmp_path, {"rules/r.yaml": "extends: grounding\n", "claims.yaml": CLAIMS})
    return [f.match for f in check(rs, ctx("x", slots={"s": fill}, slot_inputs={"s": given or {"policy_type": "home"}}))]


def test_claim_figures():
    assert claim_figures("Rated 4.8 out of 5 by our customers on Trustpilot") == ("4.8", "out", "of", "5")
    assert claim_figures("Over 50 years of looking after homes") == ("over", "50", "years")
    assert claim_figures("No monthly fee on the Everyday Account") is None


@pytest.mark.parametrize(
    "fill, ungrounded",
    [
        ("Our customers rate us 4.8 out of 5 on Trustpilot.", []),
        ("Rated 4.8 out of 5 by our customers on Trustpilot, so you are in good hands.", []),
        ("We settle 9 out of 10 home claims settled within 10 working days.", []),
        ("With over 50 years of looking after homes, we know what matters.", []),
        # near a claim's wording is not the claim
        ("Our customers rate us 4.9 out of 5.", ["4.9", "5"]),
        ("Rated 4.8 out of 10 by our customers.", ["4.8", "10"]),
        ("Rated 4.8 out of 5 by our customers; claims paid in 7 days.", ["7"]),
        ("We settle 9 out of 10 claims.", ["9", "10"]),  # half of HM-002's figures
        ("For 50 years we have looked after homes.", ["50"]),
        # a retired claim grounds nothing
        ("Rated 4.6 out of 5 by our customers.", ["4.6", "5"]),
    ],
)
def test_quoted_claim_figures_are_grounded(tmp_path, fill, ungrounded):
    assert numbers(tmp_path, fill) == ungrounded


def test_the_demo_brand_accepts_hm_001_in_a_slot():
    rs = load_ruleset(GUIDELINES / "harbor-mutual")
    fill = "Our customers rate us 4.8 out of 5 on Trustpilot."
    got = [f for f in rs.check(ctx(fill, slots={"tip": fill}, slot_inputs={"tip": {"policy_type": "home"}})) if f.rule == "_base.grounding"]
    assert got == []
    near = "Our customers rate us 4.9 out of 5 on Trustpilot."
    got = rs.check(ctx(near, slots={"tip": near}, slot_inputs={"tip": {"policy_type": "home"}}))
    assert [f.match for f in got if f.rule == "_base.grounding"] == ["4.9", "5"]
