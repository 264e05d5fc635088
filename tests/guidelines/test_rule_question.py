from review.guidelines.testing import check, ctx, one_rule

from ._demo_fills import errors

RULE = "extends: question\n"


def _ctx(fill, instruction):
    return ctx(fill, slots={"tip": fill}, slot_instructions={"tip": instruction})


def test_a_question_where_a_statement_was_asked(tmp_path):
    fill = "Thanks for being with us. Have you checked your smoke alarms lately?"
    got = check(one_rule(tmp_path, RULE), _ctx(fill, "Write one short, practical tip."))
    assert [(f.match, f.level) for f in got] == [("Have you checked your smoke alarms lately?", "error")]
    assert got[0].message == "tip asks a question; its instruction asked: Write one short, practical tip."
    assert fill[got[0].span[0] : got[0].span[1]] == got[0].match


def test_a_question_the_instruction_asks_for(tmp_path):
    rs = one_rule(tmp_path, RULE)
    assert check(rs, _ctx("Have you checked your smoke alarms?", "Ask the customer one question about their home.")) == []
    assert check(rs, _ctx("Have you checked your smoke alarms?", "Write a gentle question about safety.")) == []
    assert check(rs, _ctx("Check your smoke alarms.", "Write one tip.")) == []


def test_without_an_instruction_a_question_is_still_reported(tmp_path):
    got = check(one_rule(tmp_path, RULE), ctx("x", slots={"tip": "Ready?"}))
    assert [f.message for f in got] == ["tip asks a question; a statement was asked for"]


def test_asks_words_are_configurable(tmp_path):
    rs = one_rule(tmp_path, RULE + "asks: [quiz]\n")
    assert check(rs, _ctx("Ready?", "Write a quiz line.")) == []
    assert len(check(rs, _ctx("Ready?", "Write a question."))) == 1


def test_demo_brands():
    assert "fill-question" in errors("harbor-mutual", "Have you checked your smoke alarms this month?", {"policy_type": "home"})
    assert "fill-question" not in errors("harbor-mutual", "Check your smoke alarms this month.", {"policy_type": "home"})
