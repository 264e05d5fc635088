import pytest

from review.guidelines.testing import brand, check, ctx


@pytest.mark.parametrize(
    "text, limit, span",
    [
        ("one two three", 3, None),
        ("one two three four five", 3, (14, 23)),
        ("don't low-risk three four", 3, (21, 25)),  # contractions and hyphenated words count once
    ],
)
def test_word_limit_from_template(tmp_path, text, limit, span):
    rs = brand(tmp_path, {})
    found = check(rs, ctx("x", slots={"s": text}, slot_max_words={"s": limit}), "acme.word-limit")
    assert [f.span for f in found] == ([span] if span else [])
    if span:
        assert found[0].level == "error" and found[0].slot == "s" and found[0].message.endswith(f"the limit for this slot is {limit}.")


def test_fixed_limit_rule_replaces_builtin(tmp_path):
    rs = brand(tmp_path, {"rules/short.yaml": "extends: length\nmax_words: 2\nlevel: warning\n"})
    found = rs.check(ctx("x", slots={"s": "one two three"}))
    assert [(f.rule, f.level) for f in found] == [("acme.short", "warning")]
