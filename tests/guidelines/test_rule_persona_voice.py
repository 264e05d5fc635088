"""persona's two further checks: the reader talked about instead of to, and the prompt's own
words. Real fills from the acceptance bench's pools, with good fills that must pass."""

from __future__ import annotations

import pytest

from review.guidelines.testing import check, ctx, one_rule

RULE = "extends: persona\n"


def _found(tmp_path, fill: str, rule: str = RULE) -> list[str]:
    return [f.match for f in check(one_rule(tmp_path, rule), ctx(fill, slots={"opening": fill}))]


@pytest.mark.parametrize(
    ("fill", "match"),
    [
        ("They've been with us for 1 year, and we're glad to have you here.", "They've"),
        ("They have been with us for 25 years, and we're looking forward to continuing your banking.", "They"),
        ("The customer has received their pet insurance claim and is reviewing it now.", "The customer"),
        ("Customers can find their pet insurance documents anywhere.", "Customers"),
        ("Click here to view complete JSON data.", "JSON"),
        ("Here's your extra rewards in one sentence.", "sentence"),
        ("Thank you for trusting Harbor Mutual with your cover. Thank you for 20 years. Their cover matters.", "Their"),
    ],
)
def test_reported(tmp_path, fill, match):
    assert _found(tmp_path, fill) == [match]


@pytest.mark.parametrize(
    "fill",
    [
        "Keep photos of valuable items somewhere safe; they make it easier to describe what you own.",
        "Keep your pet's vaccination and vet records together; they make it easier to answer questions about their care.",
        "You have been with us for 10 years, and we appreciate your loyalty.",
        "We have received your home insurance claim and are looking at it now.",
        "See [our guide](https://example.com) for more.",  # brackets in a person's edit are left alone
    ],
)
def test_good_fills_pass(tmp_path, fill):
    assert _found(tmp_path, fill) == []


def test_each_check_can_be_turned_off(tmp_path):
    assert _found(tmp_path, "They've been with us for 1 year.", RULE + "third_person: false\n") == []
    assert _found(tmp_path, "Click here to view complete JSON data.", RULE + "prompt_words: false\n") == []
    msgs = [f.message for f in check(one_rule(tmp_path, RULE), ctx("x", slots={"opening": "They've been with us."}))]
    assert msgs == ["'They've' talks about the reader instead of to them; a fill speaks to the reader as 'you'"]
