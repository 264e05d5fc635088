"""mention: a fill must name the inputs its template slot lists under must_name. The fills are
real ones from the acceptance bench's pools (bench/data/pool*.jsonl)."""

from __future__ import annotations

import pytest

from review.guidelines import CheckContext
from review.guidelines.testing import check, ctx, one_rule

from ._demo_fills import demo

RULE = "extends: mention\n"
WELCOME = "Write one welcome sentence for a customer who has just opened an account with us. Mention their type of account."


def _ctx(fill: str, inputs: dict[str, str], must: tuple[str, ...] = ("account_type",), approved: tuple[str, ...] = ()) -> CheckContext:
    return ctx(
        fill,
        slots={"welcome": fill},
        slot_inputs={"welcome": inputs},
        slot_instructions={"welcome": WELCOME},
        slot_must_name={"welcome": must},
        slot_approved={"welcome": approved},
    )


def test_a_fill_that_leaves_out_its_input_is_reported_with_the_instruction(tmp_path):
    fill = "Thank you for choosing Northbank for your new account."
    got = check(one_rule(tmp_path, RULE), _ctx(fill, {"account_type": "savings"}))
    assert [(f.level, f.slot, f.match) for f in got] == [("error", "welcome", fill)]
    assert got[0].message == ("welcome does not name the account type it was given (account_type=savings); its instruction asked: " + WELCOME)


@pytest.mark.parametrize(
    ("fill", "inputs"),
    [
        ("Welcome to Northbank, and thank you for opening your savings account with us.", {"account_type": "savings"}),
        ("This letter explains a change to the interest rate on your credit cards.", {"account_type": "credit card"}),  # plural
        ("Thank you for your new Credit-Card account.", {"account_type": "credit card"}),  # case and hyphen
        ("You have been with us for 8 years now.", {"tenure_years": "8"}),
        ("You have been with us for eight years now.", {"tenure_years": "8"}),  # spelled out
        ("Thank you for banking with Northbank for twenty years.", {"tenure_years": "20"}),
    ],
)
def test_the_value_named_in_its_usual_forms_passes(tmp_path, fill, inputs):
    assert check(one_rule(tmp_path, RULE), _ctx(fill, inputs, must=tuple(inputs))) == []


def test_a_number_inside_another_number_or_word_does_not_count(tmp_path):
    rs = one_rule(tmp_path, RULE)
    assert len(check(rs, _ctx("You have been with us for 18 years.", {"tenure_years": "8"}, must=("tenure_years",)))) == 1
    assert len(check(rs, _ctx("Welcome to our Leedsbury branch.", {"city": "Leeds"}, must=("city",)))) == 1


def test_words_name_a_value_another_way(tmp_path):
    rs = one_rule(tmp_path, RULE + "words:\n  mortgage: [home loan]\n")
    assert check(rs, _ctx("Thank you for choosing us for your home loan.", {"account_type": "mortgage"})) == []
    assert len(check(rs, _ctx("Thank you for choosing us for your loan.", {"account_type": "mortgage"}))) == 1


def test_only_slots_that_declare_must_name_and_never_approved_text(tmp_path):
    rs = one_rule(tmp_path, RULE)
    fill = "Welcome to Northbank, and thank you for opening an account with us."
    assert check(rs, _ctx(fill, {"account_type": "savings"}, must=())) == []  # a tip need not say "home"
    assert check(rs, _ctx(fill, {"account_type": "savings"}, approved=(fill,))) == []  # the fallback / base
    assert check(rs, _ctx(fill, {}, must=("account_type",))) == []  # not personalized: no value given


def test_demo_brands_have_it_and_templates_declare_it():
    rules, values = demo("northbank")
    fill = "Welcome to Northbank, and thank you for opening your current account with us."
    given = {"welcome": {"account_type": "savings"}}
    c = CheckContext(message=fill, slots={"welcome": fill}, slot_inputs=given, slot_must_name={"welcome": ("account_type",)}, field_values=values)
    assert "northbank.fill-names-input" in {f.rule for f in rules.check(c)}
    c.slots = {"welcome": fill}
    c.slot_inputs = {"welcome": {"account_type": "current"}}
    assert "northbank.fill-names-input" not in {f.rule for f in rules.check(c)}
