import pytest

from review.guidelines.testing import brand, check, ctx

from ._demo_fills import errors

CLAIMS = """\
- id: C1
  wording: "The most prescribed treatment of its kind in the UK"
  status: active
- id: C2
  wording: "Voted best home insurer 2022"
  status: retired
"""


def rules(tmp_path, extra=""):
    return brand(tmp_path, {"rules/r.yaml": "extends: superlative\n" + extra, "claims.yaml": CLAIMS})


def found(rs, fill, inputs=None):
    return [f.match for f in check(rs, ctx(fill, slots={"s": fill}, slot_inputs={"s": inputs or {}}))]


@pytest.mark.parametrize(
    "fill, expected",
    [
        ("Welcome to Bristol, the UK's busiest city.", ["busiest"]),
        ("Our most popular cover suits you.", ["most popular"]),
        ("We are the #1 insurer in Leeds.", ["#1"]),
        ("The largest and friendliest team in town.", ["largest", "friendliest"]),
        ("Meet the UK's fastest-growing bank.", ["fastest"]),
        ("We have the best rates.", ["best"]),
        ("Your interest in our webinar is welcome; the nearest branch is on West Street.", []),
        ("Get the most from your cover.", []),
        ("Keep notes of your latest statements.", []),
    ],
)
def test_cases(tmp_path, fill, expected):
    assert found(rules(tmp_path), fill) == expected


def test_message_names_the_slot_and_its_inputs(tmp_path):
    got = check(rules(tmp_path), ctx("x", slots={"greeting": "Bristol is the UK's busiest city."}, slot_inputs={"greeting": {"city": "Bristol"}}))
    assert [(f.message, f.level) for f in got] == [("greeting claims 'busiest', which neither its inputs (city=Bristol) nor an approved claim says", "error")]


def test_an_input_or_an_active_claim_may_say_it(tmp_path):
    rs = rules(tmp_path)
    assert found(rs, "Your plan: Best Value Saver.", {"plan": "Best Value Saver"}) == []
    assert found(rs, "The most prescribed treatment of its kind in the UK.") == []  # active claim C1
    assert found(rs, "The most prescribed treatment in Europe.") == ["most prescribed"]  # not C1's wording
    assert found(rs, "Voted best home insurer 2022.") == ["best"]  # C2 is retired


def test_exceptions_and_own_terms(tmp_path):
    rs = rules(tmp_path, "exceptions: [best wishes]\nextra_terms: [unique]\n")
    assert found(rs, "Best wishes from a unique team.") == ["unique"]
    assert found(rules(tmp_path / "no-est", "est_words: false\n"), "Bristol, the UK's busiest city.") == []


def test_demo_brands():
    fill = "Welcome to Bristol, the UK's busiest city, from all of us at Harbor Mutual."
    assert "fill-superlative" in errors("harbor-mutual", fill, {"city": "Bristol"}, "Write one friendly welcome sentence that mentions the customer's city.")
    fine = "Welcome to Harbor Mutual, and hello to everyone in Bristol."
    assert errors("harbor-mutual", fine, {"city": "Bristol"}, "Write one friendly welcome sentence that mentions the customer's city.") == set()
