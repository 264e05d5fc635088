import pytest

from review.guidelines.rules.grounding import names_in, numbers_in
from review.guidelines.testing import brand, check, ctx, one_rule

RULE = "extends: grounding\n"
WELCOME_EXAMPLES = [
    "We are delighted to welcome you to Harbor Mutual here in Bristol.",
    "Welcome to Harbor Mutual, and hello to everyone in Leeds.",
]
OPENING_EXAMPLES = [
    "Thank you for trusting us with your cover for 3 years.",
    "It has been 7 years since you joined us, and we are glad you are still with us.",
]


def found(tmp_path, text, given, examples=(), rule=RULE, **kw):
    c = ctx("x", slots={"s": text}, slot_inputs={"s": given}, slot_examples={"s": list(examples)}, **kw)
    return [(f.match, f.slot, f.span, f.level, f.message) for f in check(one_rule(tmp_path, rule), c)]


@pytest.mark.parametrize(
    "text, given, match",
    [
        ("It has been 7 years since you joined us.", {"tenure_years": "1"}, "7"),
        ("Thank you for five wonderful years with us.", {"tenure_years": "1"}, "five"),
        ("Happy fifth anniversary with Harbor Mutual!", {"tenure_years": "3"}, "fifth"),
        ("Thanks for one year with us.", {"tenure_years": "7"}, "one"),
        ("This is your second year with us.", {"tenure_years": "4"}, "second"),
        ("For every dollar you spend, you get 2 dollars back.", {"policy_type": "home"}, "2"),
        ("Save 10% on your cover.", {"policy_type": "home"}, "10"),
        ("Thanks for twenty-one years!", {"tenure_years": "20"}, "twenty-one"),
        ("We offer an extended one-year service.", {"tenure_years": "3"}, "one"),
        ("You have been with us since 2019.", {}, "2019"),
        ("Thanks for your 3rd year.", {"tenure_years": "2"}, "3rd"),
        ("Do not exceed your data cache (32GB).", {"policy_type": "home"}, "32GB"),  # a unit glued on
        ("Claims answered within 24h.", {"policy_type": "home"}, "24h"),
    ],
)
def test_ungrounded_numbers(tmp_path, text, given, match):
    [(m, slot, span, level, message)] = found(tmp_path, text, given)
    assert (m, slot, text[span[0] : span[1]], level) == (match, "s", match, "error")
    assert f"states '{match}'" in message


@pytest.mark.parametrize(
    "text, given",
    [
        ("Thanks for being with us for 1 year.", {"tenure_years": "1"}),
        ("Thanks for one year with us.", {"tenure_years": "1"}),
        ("Your first year with us has flown by.", {"tenure_years": "1"}),
        ("Seven years together: thank you.", {"tenure_years": "7"}),
        ("Thank you for 12 years of trust.", {"tenure_years": "12"}),
        ("Here is one of our favourite tips.", {"policy_type": "home"}),  # 'one' with no unit
        ("First, check your named drivers.", {"policy_type": "motor"}),
        ("Our R1SK team is here for you.", {}),  # a digit inside a word is no number
        ("Travel safe in the 2020s and beyond.", {"tenure_years": "2020"}),
        ("Check your cover before you travel.", {}),
    ],
)
def test_grounded_numbers(tmp_path, text, given):
    assert found(tmp_path, text, given) == []


def test_example_number_is_called_a_copy(tmp_path):
    [(m, _, _, _, message)] = found(tmp_path, "It has been 7 years since you joined us.", {"tenure_years": "1"}, OPENING_EXAMPLES)
    assert m == "7"
    assert message == "states '7' (copied from an example); the recipient's data says tenure_years=1"


def test_allow_numbers(tmp_path):
    rule = RULE + "allow_numbers: ['24', '7']\n"
    assert found(tmp_path, "We are here 24/7.", {}, rule=rule) == []
    assert [m for m, *_ in found(tmp_path, "We are here 24/6.", {}, rule=rule)] == ["6"]


@pytest.mark.parametrize(
    "text, given, match",
    [
        ("Welcome, and hello to everyone in Leeds.", {"city": "Cardiff"}, "Leeds"),
        ("Hello to everyone in leeds!", {"city": "Cardiff"}, "leeds"),
        ("A warm welcome to you here in Bristol.", {"city": "York"}, "Bristol"),
        ("Leeds is a lovely place to live.", {"city": "Cardiff"}, "Leeds"),
        ("Welcome! Greetings from Le\u0435ds.", {"city": "Cardiff"}, "Le\u0435ds"),  # Cyrillic е
    ],
)
def test_copied_names(tmp_path, text, given, match):
    [(m, slot, span, level, message)] = found(tmp_path, text, given, WELCOME_EXAMPLES)
    assert (m, slot, text[span[0] : span[1]], level) == (match, "s", match, "error")
    assert message == f"copied '{match}' from an example; the recipient's data says city={given['city']}"


@pytest.mark.parametrize(
    "text, given, examples",
    [
        ("Welcome, and hello to everyone in Cardiff.", {"city": "Cardiff"}, WELCOME_EXAMPLES),
        ("Hello to everyone in Leeds.", {"city": "Leeds"}, WELCOME_EXAMPLES),  # the data says Leeds
        ("Hello to everyone in Leeds.", {"city": "Cardiff"}, []),  # no examples: nothing copied
        ("We are delighted to welcome you.", {"city": "Cardiff"}, WELCOME_EXAMPLES),  # 'We' starts a sentence
        ("Welcome to everyone in Cardiff.", {"city": "Cardiff"}, WELCOME_EXAMPLES),  # 'Welcome' starts a sentence
        ("Thank you for your trust.", {"tenure_years": "3"}, OPENING_EXAMPLES),
        ("Hello to all in Leedsville.", {"city": "Cardiff"}, WELCOME_EXAMPLES),  # word boundary
    ],
)
def test_not_copied(tmp_path, text, given, examples):
    assert found(tmp_path, text, given, examples) == []


def test_brand_name_from_folder_and_accept_vocab_are_not_copies(tmp_path):
    examples = ["Harbor Mutual and the FCA welcome you to Leeds."]
    rs = brand(tmp_path, {"rules/r.yaml": RULE, "vocab/accept.txt": "FCA\n"}, name="harbor-mutual")
    c = ctx("x", slots={"s": "Harbor Mutual and the FCA welcome you to Leeds."}, slot_inputs={"s": {"city": "York"}}, slot_examples={"s": examples})
    assert [f.match for f in check(rs, c, rule="harbor-mutual.r")] == ["Leeds"]


def test_names_in_the_fixed_copy_are_house_wording(tmp_path):
    c = ctx(
        "Hello,\nWelcome to Harbor Mutual in Leeds.\nBye",
        slots={"s": "Welcome to Harbor Mutual in Leeds."},
        slot_inputs={"s": {"city": "York"}},
        slot_examples={"s": ["Welcome to Harbor Mutual in Leeds."]},
        fixed_segments=["Hello,\n", "\nBye, from Harbor Mutual"],
        slot_sequence=["s"],
    )
    assert [f.match for f in check(one_rule(tmp_path, RULE), c)] == ["Leeds"]


def test_allow_names_and_switches(tmp_path):
    text, given = "Hello to everyone in Leeds for 7 years.", {"city": "York", "tenure_years": "2"}
    examples = ["Hello to everyone in Leeds."]
    assert sorted(m for m, *_ in found(tmp_path, text, given, examples)) == ["7", "Leeds"]
    assert [m for m, *_ in found(tmp_path, text, given, examples, rule=RULE + "allow_names: [Leeds]\n")] == ["7"]
    assert [m for m, *_ in found(tmp_path, text, given, examples, rule=RULE + "check_numbers: false\n")] == ["Leeds"]
    assert [m for m, *_ in found(tmp_path, text, given, examples, rule=RULE + "check_examples: false\n")] == ["7"]


def test_no_data_message(tmp_path):
    [(_, _, _, _, message)] = found(tmp_path, "Thanks for 5 years.", {}, personalized=False)
    assert message == "states '5' (not in this slot's data); this slot was given no data"


def test_helpers():
    assert names_in("Welcome to Harbor Mutual, and hello to everyone in Leeds.") == ["Harbor Mutual", "Leeds"]
    assert names_in("The Bank of England agrees. Keep photos safe.") == ["Bank of England"]
    assert [v for *_, v in numbers_in("one of us, one year, 4.8 stars, 10,000 steps")] == [1.0, 4.8, 10000.0]


@pytest.mark.parametrize(
    "text, values",
    [
        ("an extended one-year service", [1.0]),
        ("one of our tips", []),
        ("twenty-one years, thirty-five days", [21.0, 35.0]),
        ("a five-star service for ten years", [5.0, 10.0]),
        ("first, check; your first claim", [1.0]),
    ],
)
def test_number_words(text, values):
    assert [v for *_, v in numbers_in(text)] == values


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Cardiff, a beloved city in England.", [("England", "warning")]),
        ("Welcome to Fleet Street Hull, Cardiff friends.", [("Fleet Street Hull", "warning")]),
        ("Refill your travel apps. Then relax in Cardiff.", []),  # sentence-initial words are not names
        ("Hello to everyone in Leeds, and I mean everyone.", [("Leeds", "error")]),  # a copy is still an error
        ("We love Harbor Mutual.", []),  # in the template's fixed copy
    ],
)
def test_other_names(tmp_path, text, expected):
    c = ctx(
        "x",
        slots={"s": text},
        slot_inputs={"s": {"city": "Cardiff"}},
        slot_examples={"s": WELCOME_EXAMPLES},
        fixed_segments=["Hi,\n", "\nThe Harbor Mutual team"],
        slot_sequence=["s"],
    )
    got = check(one_rule(tmp_path, RULE + "other_names: warning\n"), c)
    assert [(f.match, f.level) for f in got] == expected
    assert check(one_rule(tmp_path / "off", RULE), c) == [f for f in got if f.level == "error"] or not expected


def test_other_names_level_is_checked(tmp_path):
    from review.guidelines import GuidelineLoadError

    with pytest.raises(GuidelineLoadError, match="other_names"):
        one_rule(tmp_path, RULE + "other_names: loud\n")
