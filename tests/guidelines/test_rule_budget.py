import pytest

from review.guidelines.testing import brand, check, ctx

BRAND = "name: Acme\npersonalization:\n  max_slots: 2\n  max_personalized_share: 0.3\n"


def run(tmp_path, c, files=None):
    rs = brand(tmp_path, {"brand.yaml": BRAND, **(files or {})})
    return [f.message for f in check(rs, c, "acme.budget")]


FIXED = "one two three four five six seven eight nine ten"


@pytest.mark.parametrize(
    "slots, personalized, expected",
    [
        ({"a": "hi there"}, True, []),  # 2 of 12 words
        ({"a": "hi there you all"}, True, []),  # 4 of 14 words: 29%
        ({"a": "hi there you all lovely"}, True, ["33% of the message's words are personalized; the brand allows at most 30%."]),
        ({"a": "hi there you all lovely"}, False, []),  # human fallback copy is not personalized
        ({"a": "x", "b": "y", "c": "z"}, False, ["The message has 3 personalized slots; the brand allows at most 2."]),
    ],
)
def test_budget(tmp_path, slots, personalized, expected):
    seq = list(slots)
    message = " ".join(slots.values()) + " " + FIXED
    c = ctx(message, slots=slots, slot_sequence=seq, personalized=personalized)
    assert run(tmp_path, c) == expected


def test_rule_file_overrides_brand_numbers(tmp_path):
    rs = brand(tmp_path, {"brand.yaml": BRAND, "rules/budget.yaml": "extends: budget\nmax_slots: 5\nlevel: warning\n"})
    found = rs.check(ctx("a b c", slots={k: "x" for k in "abcdef"}, personalized=False))
    assert [(f.rule, f.level) for f in found if "slots" in f.message] == [("acme.budget", "warning")]


def test_message_word_count_line_by_line_equals_counting_the_whole_message():
    import random

    from review.guidelines import CheckContext, Draft
    from review.guidelines.rule import word_count

    rnd = random.Random(4)
    for _ in range(2000):
        pieces = ["a", "b1", "'", "-", " ", "\n", "\r\n", "don't", "low-risk", "é", "_", ".", "\n-", "-\n"]
        message = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 16)))
        assert Draft(CheckContext(message=message)).message_word_count() == word_count(message), repr(message)
