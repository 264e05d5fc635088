import pytest

from review.guidelines.testing import check, ctx, one_rule

SEGMENTS = ["Dear customer,\n", "\nYour policy renews on 1 May.\n", ""]
SLOTS = {"greeting": "Thanks for 5 years with us.", "tip": "Check your cover."}
SEQ = ["greeting", "tip"]


def run(tmp_path, message, **kw):
    c = ctx(message, slots=SLOTS, fixed_segments=SEGMENTS, slot_sequence=SEQ, **kw)
    return [(f.span, f.match, f.scope, f.message) for f in check(one_rule(tmp_path, "extends: fixed\n"), c)]


GOOD = "Dear customer,\nThanks for 5 years with us.\nYour policy renews on 1 May.\nCheck your cover."


@pytest.mark.parametrize(
    "message, expected",
    [
        (GOOD, []),
        (GOOD.replace("\n", "\n\n"), []),  # whitespace only
        (GOOD.replace("1 May", "2 May"), [((65, 66), "2", "fixed", "Fixed copy was changed here; expected '1'.")]),
        (GOOD.replace("Dear customer,", "Hey you,"), [((0, 7), "Hey you", "fixed", "Fixed copy was changed here; expected 'Dear customer'.")]),
        (
            GOOD.replace("renews on 1 May", "renews on 1 May with a 10% discount"),
            [((70, 90), " with a 10% discount", "fixed", "Fixed copy was changed here; expected ''.")],
        ),
    ],
)
def test_fixed(tmp_path, message, expected):
    assert run(tmp_path, message) == expected


def test_exact_whitespace(tmp_path):
    c = ctx(GOOD + "\n", slots=SLOTS, fixed_segments=SEGMENTS, slot_sequence=SEQ)
    rs = one_rule(tmp_path, "extends: fixed\nignore_whitespace: false\n")
    assert [f.span for f in check(rs, c)] == [(len(GOOD), len(GOOD) + 1)]


def test_fixed_scope_text_rules_report_in_message_coordinates(tmp_path):
    rs = one_rule(tmp_path, "extends: existence\nscope: fixed\ntokens: [customer, cover]\n")
    c = ctx(GOOD, slots=SLOTS, fixed_segments=SEGMENTS, slot_sequence=SEQ)
    # 'cover' is in a slot, not the fixed copy: only 'customer' is reported, at its place in the message
    assert [(f.match, f.span, f.scope) for f in check(rs, c)] == [("customer", (5, 13), "fixed")]
