import pytest

from review.guidelines.testing import matches, one_rule

RULE = """
extends: existence
message: "Don't say '%s'."
tokens:
  - risk-free
  - best
  - no side effects
  - guaranteed payout
  - /\\d+% off/
exceptions:
  - best interests
"""


@pytest.mark.parametrize(
    "text, found",
    [
        ("A risk-free plan", ["risk-free"]),
        ("A R1SK-FREE plan", ["R1SK-FREE"]),
        ("A risk\u2011free plan", ["risk\u2011free"]),
        ("A risk\u200bfree plan", ["risk\u200bfree"]),
        ("A risk free plan", ["risk free"]),
        ("A riskfree plan", ["riskfree"]),
        ("A Rіsk–frее plan", ["Rіsk–frее"]),  # Cyrillic letters, en dash
        ("The BEST cover", ["BEST"]),
        ("The b3st cover", ["b3st"]),
        ("No side-effects at all", ["No side-effects"]),
        ("nosideeffects", ["nosideeffects"]),
        ("A guaranteed   payout", ["guaranteed   payout"]),
        ("Get 20% off today", ["20% off"]),
        ("best, best and best", ["best", "best", "best"]),
    ],
)
def test_matches(tmp_path, text, found):
    assert matches(one_rule(tmp_path, RULE), text) == found


@pytest.mark.parametrize(
    "text",
    [
        "We bestow our thanks",
        "The bestseller list",
        "Risky and freeing",
        "We act in your best interests",
        "Thanks for being with us for 5 years, Maria.",
        "20 percent off",
    ],
)
def test_does_not_match(tmp_path, text):
    assert matches(one_rule(tmp_path, RULE), text) == []


def test_message_span_and_original_text(tmp_path):
    rs = one_rule(tmp_path, RULE)
    [f] = rs.check_text("Our R1SK\u2011FREE plan")
    assert (f.span, f.match, f.message, f.level) == ((4, 13), "R1SK\u2011FREE", "Don't say 'R1SK\u2011FREE'.", "error")


def test_ignorecase_false(tmp_path):
    rs = one_rule(tmp_path, "extends: existence\nignorecase: false\ntokens: [Gold]\n")
    assert matches(rs, "Gold and gold and GOLD") == ["Gold"]


def test_accept_vocab_excepts(tmp_path):
    rs = one_rule(tmp_path, "extends: existence\ntokens: [best]\n", {"vocab/accept.txt": "# ok\nall the best\n"})
    assert matches(rs, "All the best, and the best price") == ["best"]


def test_reject_vocab_becomes_existence_rule(tmp_path):
    from review.guidelines.testing import brand

    rs = brand(tmp_path, {"vocab/reject.txt": "# pressure\nact now\n#1 choice\n/\\bhurry\\b/\n"})
    assert [(f.rule, f.match) for f in rs.check_text("Act now! Our #1 choice. Hurry.")] == [
        ("acme.reject", "Act now"),
        ("acme.reject", "#1 choice"),
        ("acme.reject", "Hurry"),
    ]
