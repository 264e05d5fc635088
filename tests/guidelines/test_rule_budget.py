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


@pytest.mark.parametrize(
    "text, n",
    [
        ("", 0),
        ("Don't miss our low-risk plan, 5 years.", 7),  # inner apostrophes and hyphens join a word
        ("a\nb\r\nc", 3),
        ("- — ... '", 0),
        ("first_name café 3.5%", 4),  # letters, digits and underscores, any script
        ("well-\nknown", 2),  # a hyphen before a line break joins nothing
    ],
)
def test_word_count_is_the_one_counter_budget_and_length_use(tmp_path, text, n):
    from review.guidelines import word_count

    assert word_count(text) == n
    rs = brand(tmp_path, {"rules/length.yaml": f"extends: length\nmax_words: {max(n - 1, 1)}\n"})
    over = [f for f in rs.check(ctx(text, slots={"s": text})) if f.rule == "acme.length"]
    assert [f.message.split()[0] for f in over] == ([str(n)] if n > 1 else [])
