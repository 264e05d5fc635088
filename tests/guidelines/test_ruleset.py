"""RuleSet: every rule over a draft, plain text or a merge-field value, findings sorted and once each."""

from review.guidelines import CheckContext, Message, load_ruleset
from review.guidelines.testing import GUIDELINES, brand

TEXTS = [
    "Thanks for being with us for 5 years, Maria.",
    "The best risk-free plan: the b3st, R1SK\u2011FREE and risk\u200bfree. Bestow it.",
    "We noticed you live with your diabetes. Call 07700 900123!!",
    "No side effects. #1 choice. 100% safe. No. 1 bank. nosideeffects.",
    "Voted best home insurer 2022. Rated 4.8 out of 5 by our customers on Trustpilot.",
    "Borrow at 6.9% with NorthBank. Thinking about a mortgage? Pre-approved!",
    "Clinically proven to reduce flare-ups by 40% over 12 weeks. Ask your physician.",
    "",
]


def test_overlapping_terms_of_different_rules(tmp_path):
    rs = brand(
        tmp_path,
        {
            "rules/long.yaml": "extends: existence\ntokens: [the best plan]\n",
            "rules/short.yaml": "extends: existence\ntokens: [best plan ever]\n",
            "rules/tiny.yaml": "extends: substitution\nswap:\n  plan: policy\n",
        },
    )
    found = [(f.rule, f.match) for f in rs.check_text("It is the best plan ever")]
    assert found == [("acme.long", "the best plan"), ("acme.short", "best plan ever"), ("acme.tiny", "plan")]


ALL_KINDS = {
    "rules/ban.yaml": "extends: existence\nscope: slot\ntokens: [risk free]\n",
    "rules/shout.yaml": "extends: occurrence\ntoken: '!'\nmax: 0\n",
    "rules/footer.yaml": "extends: required\ntokens: [Kind regards]\n",
    "rules/leak.yaml": "extends: leak\n",
}


def test_check_runs_every_rule_on_its_scope_and_sorts(tmp_path):
    rs = brand(tmp_path, ALL_KINDS)
    ctx = CheckContext(
        message="Hi! It is risk free.",
        slots={"b": "It is risk free.", "a": "Hi Leeds"},
        recipient={"city": "Leeds"},
    )
    found = [(f.rule, f.scope, f.slot, f.span) for f in rs.check(ctx)]
    assert found == [
        ("acme.leak", "slot", "a", (3, 8)),  # the slot was not given the city
        ("acme.ban", "slot", "b", (6, 15)),  # existence on slots only: not on the message
        ("acme.footer", "message", None, None),
        ("acme.shout", "message", None, (2, 3)),
    ]


def test_check_text_skips_whole_draft_rules_and_presence_on_fragments(tmp_path):
    rs = brand(tmp_path, ALL_KINDS)
    text = "Hi Leeds! It is risk free."
    # finders run whatever scope they are configured for; leak (needs a draft) never runs
    assert [f.rule for f in rs.check_text(text)] == ["acme.shout", "acme.ban"]
    assert [f.rule for f in rs.check_text(text, complete=True)] == ["acme.footer", "acme.shout", "acme.ban"]
    # occurrence and required are configured for the message scope: not run on a subject
    assert [f.rule for f in rs.check_text(text, "subject", complete=True)] == ["acme.ban"]
    assert [f.rule for f in rs.check_value(text)] == ["acme.ban"]


def test_fixed_segments_are_found_in_the_message_and_report_in_message_coordinates(tmp_path):
    rs = brand(tmp_path, {"rules/r.yaml": "extends: existence\nscope: fixed\ntokens: [free]\n"})
    ctx = CheckContext(
        message="Free cover. Ask for free help. Bye, free.",
        slots={"s": "Ask for free help."},
        fixed_segments=["Free cover. ", " Bye, free."],
        slot_sequence=["s"],
    )
    texts = Message(ctx).texts("fixed")
    assert [(t.original, t.offset) for t in texts] == [("Free cover. ", 0), (" Bye, free.", 30)]
    assert [f.span for f in rs.check(ctx)] == [(0, 4), (36, 40)]  # not the slot's 'free'


def test_demo_brands_check_plain_texts(tmp_path):
    """Every demo brand loads and checks the sample texts (and their capitals) without error,
    findings sorted by position and never repeated."""
    for name in ("harbor-mutual", "vitalis-pharma", "northbank"):
        rs = load_ruleset(GUIDELINES / name)
        for text in TEXTS:
            ctx = CheckContext(message=text + " " + text.upper(), subject=text[:40], slots={"a": text, "b": text.lower()}, slot_max_words={"a": 8})
            found = rs.check(ctx)
            assert found == sorted(set(found), key=lambda f: f.sort_key())


def every_rule(rs, ctx: CheckContext):
    """What RuleSet.check must give: every rule run on the whole draft, without the word index."""
    message = Message(ctx)
    return sorted(dict.fromkeys(f for r in rs.rules for f in r.check(message)), key=lambda f: f.sort_key())


def test_skipping_rules_by_their_words_loses_nothing():
    """The rule set skips a term rule on a text holding none of its words: on the demo brands'
    rules and texts (and their capitals, on every scope) that must change nothing."""
    for name in ("harbor-mutual", "vitalis-pharma", "northbank"):
        rs = load_ruleset(GUIDELINES / name)
        for text in TEXTS:
            ctx = CheckContext(message=text + " " + text.upper(), subject=text[:40], slots={"a": text, "b": text.lower()}, slot_max_words={"a": 8})
            assert rs.check(ctx) == every_rule(rs, ctx), (name, text)


def test_a_term_list_skips_only_texts_it_cannot_match():
    """TermSet.finditer skips a text lacking the words a match needs: on random texts (terms
    glued, hyphenated, broken over lines, in leetspeak, spelled out) it finds what a plain scan finds."""
    import dataclasses
    import random

    from review.guidelines.normalize import normalize
    from review.guidelines.terms import compile_terms

    rnd = random.Random(11)
    sets = [
        compile_terms(["risk free", "risk", "free money"]),
        compile_terms(["no. 1", "#1", "100%", "1"]),
        compile_terms(["the best", "best plan", "plan ever", "side effects"]),
        compile_terms(["a-b c", "b c", "c"]),
        compile_terms(["free", "money back", "back"]),
        compile_terms(["ab", "aba", "bab", "r i s k"]),
    ]
    pieces = ["risk", "free", "money", "back", "no", ".", "1", "#", "100", "%", "the", "best", "plan", "ever", "side", "effects"]
    pieces += ["a", "b", "c", "ab", "ba", " ", " ", "  ", "-", "\u2011", "\u200b", "R1SK", "x", "_", "\n", "r i s k", "s"]
    found = 0
    for _ in range(4000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 14)))
        norm = normalize(text)
        for ts in sets:
            assert ts.needs is not None
            want = list(dataclasses.replace(ts, needs=None).finditer(norm))
            assert list(ts.finditer(norm)) == want, (text, ts.terms)
            found += bool(want)
    assert found > 1000  # the texts do hit the terms, often


def test_terms_broken_over_lines_are_found_as_by_every_rule_alone(tmp_path):
    import random

    rs = brand(
        tmp_path,
        {
            "rules/a.yaml": "extends: existence\ntokens: [risk free, no side effects, free money, 'no. 1', '#1', side]\n",
            "rules/b.yaml": "extends: substitution\nswap:\n  best plan: good plan\n  plan ever: plan\n",
            "rules/c.yaml": "extends: existence\nscope: slot\ntokens: [kind regards, money]\n",
            "rules/d.yaml": "extends: capitalization\nnames: [Acme Cover]\n",
            "rules/e.yaml": "extends: conditional\nwhen: [free money]\nrequire: [terms apply]\n",
        },
    )
    rnd = random.Random(21)
    words = ["risk", "free", "no", "side", "effects", "money", "best", "plan", "ever", "acme", "Acme", "cover", "Cover", "kind", "regards", "#", "1", ".", "x"]
    seps = [" ", "\n", "\n\n", "-\n", " \n ", "\n-", "", " - "]
    hits = 0
    for _ in range(1500):
        message = "".join(rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(1, 12)))
        check = CheckContext(message=message, slots={"s": message.split("\n")[0]})
        found = rs.check(check)
        assert found == every_rule(rs, check), repr(message)
        hits += bool(found)
    assert hits > 500
