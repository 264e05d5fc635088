import pytest

from review.guidelines.testing import hits, one_rule

RULE = """
extends: substitution
message: "Use '%s' instead of '%s'."
level: warning
scope: slot
link: https://brand.example/guide#tone
swap:
  risk-free: low-risk
  cheap: affordable
  in order to: to
"""


@pytest.mark.parametrize(
    "text, match, suggestion",
    [
        ("a risk-free plan", "risk-free", "low-risk"),
        ("Risk-free cover", "Risk-free", "Low-risk"),
        ("R1SK-FREE cover", "R1SK-FREE", "LOW-RISK"),
        ("risk\u2011free", "risk\u2011free", "low-risk"),
        ("risk\u200bfree", "risk\u200bfree", "low-risk"),
        ("a cheap plan", "cheap", "affordable"),
        ("in  order-to save", "in  order-to", "to"),
    ],
)
def test_suggests(tmp_path, text, match, suggestion):
    [f] = hits(one_rule(tmp_path, RULE), text, scope="slot")
    assert (f.match, f.suggestion, f.level, f.link, f.scope) == (match, suggestion, "warning", "https://brand.example/guide#tone", "slot")
    assert f.message == f"Use '{suggestion}' instead of '{match}'."


@pytest.mark.parametrize("text", ["cheaply made", "a low-risk plan", "risky", "in order"])
def test_no_suggestion(tmp_path, text):
    assert hits(one_rule(tmp_path, RULE), text, scope="slot") == []


def test_only_its_scope_in_a_draft(tmp_path):
    from review.guidelines.testing import check, ctx

    rs = one_rule(tmp_path, RULE)
    found = check(rs, ctx("A cheap plan. Hi", slots={"greet": "A cheap plan."}))
    assert [(f.scope, f.slot, f.span) for f in found] == [("slot", "greet", (2, 7))]


def test_already_preferred_is_not_flagged(tmp_path):
    rs = one_rule(tmp_path, "extends: substitution\nswap:\n  low risk: low-risk\n")
    assert hits(rs, "a low-risk plan") == []
    assert [f.suggestion for f in hits(rs, "a low risk plan")] == ["low-risk"]
