"""clean_output table tests, score_candidate and choose_best."""

from __future__ import annotations

import pytest

from review.filling import choose_best, clean_output, score_candidate
from review.templates import SlotSpec


@pytest.mark.parametrize(
    ("raw", "max_words", "expected"),
    [
        ("Welcome to Harbor Mutual in York.", 20, "Welcome to Harbor Mutual in York."),
        ('"Welcome to York!"', 20, "Welcome to York!"),
        ("“Welcome to York.”", 20, "Welcome to York."),
        ("Sure! Here is a sentence:\n\nWelcome to York.", 20, "Welcome to York."),
        ("Certainly. Here's one: welcome to York.", 20, "Welcome to York."),
        ("assistant: Welcome to York.<|im_end|>\n<|im_start|>user\nmore", 20, "Welcome to York."),
        ("**Welcome** to `York`.", 20, "Welcome to York."),
        ("Dear Anna,\n\nWelcome to York. We are glad.", 20, "Welcome to York. We are glad."),
        ("Welcome to York. It is lovely here and we hope you enjoy every single minute of it.", 6, "Welcome to York."),
        ("one two three four five six seven eight", 5, "One two three four five."),
        ("Thank you for staying with us and the", 20, "Thank you for staying with us."),
        ('Welcome to York.\nCustomer data:\n{"city": "York"}', 20, "Welcome to York."),
        ("Great to have you with us in Leeds.", 20, "Great to have you with us in Leeds."),
        ("", 20, ""),
        ("<|im_end|>", 20, ""),
        ("   \n\n  ", 20, ""),
        ("Here is a sentence:", 20, ""),
        ("- Keep receipts safe.", 20, "Keep receipts safe."),
        ("Customer: Welcome to Leeds!", 20, "Welcome to Leeds!"),
        ("Tip: keep receipts safe.", 20, "Keep receipts safe."),
        # No sentence end in budget: cut at the last clause end that keeps half the budget, not mid-phrase.
        (
            "It is a pleasure to welcome you to the city of Cardiff, where we are here today as a steadfast friend",
            16,
            "It is a pleasure to welcome you to the city of Cardiff.",
        ),
        ("Hi, welcome to York and everything around it in the county", 8, "Hi, welcome to York and everything around it."),
    ],
)
def test_clean_output(raw: str, max_words: int, expected: str) -> None:
    assert clean_output(raw, max_words) == expected


def test_clean_output_is_one_paragraph_within_budget() -> None:
    raw = "Welcome to York, we are so happy.\n\nSecond paragraph here.\nThird."
    out = clean_output(raw, 12)
    assert "\n" not in out and len(out.split()) <= 12


def test_score_disqualifies(welcome_slot: SlotSpec) -> None:
    assert score_candidate("", [], welcome_slot) is None
    assert score_candidate("Welcome to York.", [{"level": "error", "rule": "x"}], welcome_slot) is None
    assert score_candidate(" ".join(["word"] * 30), [], welcome_slot) is None


def test_score_prefers_fewer_warnings_and_style(welcome_slot: SlotSpec) -> None:
    good = score_candidate("We are delighted to welcome you to Harbor Mutual here in York.", [], welcome_slot)
    warned = score_candidate("We are delighted to welcome you to Harbor Mutual here in York.", [{"level": "warning"}], welcome_slot)
    off_style = score_candidate("Bananas grow fast when it rains a lot.", [], welcome_slot)
    echo = score_candidate("Write one friendly welcome sentence that mentions the customer's city.", [], welcome_slot)
    assert good is not None and warned is not None and off_style is not None and echo is not None
    assert good > warned
    assert good > off_style
    assert good > echo


def test_choose_best() -> None:
    assert choose_best(["a", "b", "c"], [1.0, 3.0, 3.0]) == 1  # tie -> lowest index
    assert choose_best(["a", "b"], [None, 0.5]) == 1
    assert choose_best(["a", "b"], [None, None]) is None
    assert choose_best([], []) is None


def test_score_parts_add_up_to_the_score_and_say_why_a_candidate_is_out() -> None:
    from review.filling.scoring import score_parts, total

    slot = SlotSpec("tip", "Write one tip about home cover.", (), 12, ("Keep photos of valuable items somewhere safe.",), "Fallback.")
    parts, why = score_parts("Keep photos of valuable items somewhere safe", [{"level": "warning"}], slot)
    assert parts is not None and why == ""
    assert parts["base"] == 10.0 and parts["warnings"] == -2.0 and parts["copies_example"] == -3.0 and parts["no_full_stop"] == -0.5
    assert total(parts) == score_candidate("Keep photos of valuable items somewhere safe", [{"level": "warning"}], slot)
    assert score_parts("Fine text here.", [{"level": "error"}], slot) == (None, "error")
    assert score_parts("word " * 13, [], slot) == (None, "longer than 12 words")
    assert score_parts("  ", [], slot) == (None, "empty after cleaning")
