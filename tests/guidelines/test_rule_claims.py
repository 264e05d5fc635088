import pytest

from review.guidelines.testing import hits, one_rule

CLAIMS = """
- id: HM-001
  wording: "Rated 4.8 out of 5 by our customers on Trustpilot."
  reference: "Trustpilot, March 2025"
  status: active
- id: HM-002
  wording: "The best-value home cover in Yorkshire"
  reference: "Defaqto 2025"
  status: active
- id: HM-003
  wording: "Voted best home insurer 2022"
  reference: "Awards 2022"
  status: retired
"""
RULE = "extends: claims\nexceptions: [best interests]\n"


def run(tmp_path, text):
    return [(f.level, f.match, f.claim_id) for f in hits(one_rule(tmp_path, RULE, {"claims.yaml": CLAIMS}), text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Clinically proven cover", [("error", "Clinically proven", None)]),
        ("A guaranteed result", [("error", "guaranteed", None)]),
        ("The best cover", [("error", "The best", None)]),
        ("The b\u200be\u200bst cover", [("error", "The b\u200be\u200bst", None)]),
        ("Our R1SK-FREE plan", [("error", "R1SK-FREE", None)]),
        ("No side effects", [("error", "No side effects", None)]),
        ("Simply the safest", [("error", "safest", None)]),
        ("We're rated 4.8 out of 5 by our customers on Trustpilot!", [("suggestion", "rated 4.8 out of 5 by our customers on Trustpilot", "HM-001")]),
        ("The best value home cover in Yorkshire.", [("suggestion", "The best value home cover in Yorkshire", "HM-002")]),
        ("Voted best home insurer 2022", [("error", "Voted best home insurer 2022", "HM-003")]),
        ("In your best interests", []),
        ("We bestow care", []),
        ("Thanks for being with us for 5 years, Maria.", []),
    ],
)
def test_claims(tmp_path, text, expected):
    assert run(tmp_path, text) == expected


def test_messages_name_the_claim(tmp_path):
    rs = one_rule(tmp_path, RULE, {"claims.yaml": CLAIMS})
    [ok] = hits(rs, "Rated 4.8 out of 5 by our customers on Trustpilot")
    [retired] = hits(rs, "Voted best home insurer 2022")
    [bad] = hits(rs, "The best")
    assert ok.message == "Matched approved claim HM-001 (Trustpilot, March 2025)."
    assert retired.message == "Claim HM-003 is retired and may no longer be used."
    assert bad.message == "Unapproved claim 'The best': no active claim in the claims library matches."
    assert [c.id for c in rs.claims] == ["HM-001", "HM-002", "HM-003"]
