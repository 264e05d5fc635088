"""The fast path (shared trie screen, anchor tokens) must give exactly what running every rule gives."""

import pytest

from review.guidelines import CheckContext, Draft, load_ruleset
from review.guidelines.findings import Finding
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


def brute_force(rs, ctx: CheckContext) -> list[Finding]:
    from review.guidelines.normalize import normalize

    normalize.cache_clear()  # fresh texts: nothing the fast path worked out is reused
    draft = Draft(ctx)
    out = [f for r in rs.rules for f in r.check(draft)]
    return sorted(dict.fromkeys(out), key=Finding.sort_key)


@pytest.mark.parametrize("name", ["harbor-mutual", "vitalis-pharma", "northbank"])
@pytest.mark.parametrize("text", TEXTS)
def test_fast_path_equals_brute_force(name, text):
    rs = load_ruleset(GUIDELINES / name)
    ctx = CheckContext(message=text + " " + text.upper(), subject=text[:40], slots={"a": text, "b": text.lower()}, slot_max_words={"a": 8})
    assert rs.check(ctx) == brute_force(rs, ctx)


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


def test_matches_within_the_screen_equal_a_full_pass():
    """TermSet.matches_within (matching only where a shared screen matched) == a pass of its own."""
    import random

    from review.guidelines.normalize import normalize
    from review.guidelines.terms import compile_terms

    rnd = random.Random(11)
    sets = [
        compile_terms(["risk free", "risk", "free money"]),
        compile_terms(["no. 1", "#1", "100%", "1"]),
        compile_terms(["the best", "best plan", "plan ever"]),
        compile_terms(["a-b c", "b c", "c"]),
        compile_terms(["free", "money back", "back"]),
        compile_terms(["ab", "aba", "bab"]),
    ]
    screen = compile_terms(sorted({t for ts in sets for t in ts.terms})).regex
    pieces = ["risk", "free", "money", "back", "no", ".", "1", "#", "100", "%", "the", "best", "plan", "ever"]
    pieces += ["a", "b", "c", "ab", "ba", " ", " ", "  ", "-", "\u2011", "\u200b", "R1SK", "x", "_", "\n"]
    checked = 0
    for _ in range(4000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 14)))
        norm = normalize.__wrapped__(text)
        spans = [m.span() for m in screen.finditer(norm.folded)]
        for ts in sets:
            want = ts._scan(norm)
            assert ts.matches_within(norm, spans) == want, (text, ts.terms)
            checked += bool(want)
    assert checked > 1000  # the texts do hit the terms, often


def test_terms_broken_over_lines_are_found_as_by_every_rule_alone(tmp_path):
    """Messages of many lines, with terms broken over line breaks, blank lines, hyphens and glued
    words, some recurring: the engine finds exactly what every rule finds on its own."""
    import random

    from review.guidelines.testing import brand

    rs = brand(
        tmp_path,
        {
            "rules/a.yaml": "extends: existence\ntokens: [risk free, no side effects, free money, 'no. 1', '#1', side]\n",
            "rules/b.yaml": "extends: substitution\nswap:\n  best plan: good plan\n  plan ever: plan\n",
            "rules/c.yaml": "extends: existence\nscope: slot\ntokens: [kind regards, money]\n",
            "rules/d.yaml": "extends: capitalization\nnames: [Acme Cover]\n",
        },
    )
    rnd = random.Random(21)
    words = ["risk", "free", "no", "side", "effects", "money", "best", "plan", "ever", "acme", "Acme", "cover", "Cover", "kind", "regards", "#", "1", ".", "x"]
    seps = [" ", "\n", "\n\n", "-\n", " \n ", "\n-", "", " - "]
    for i in range(1500):
        parts = [rnd.choice(words) + rnd.choice(seps) for _ in range(rnd.randint(1, 12))]
        message = "".join(parts)
        check = CheckContext(message=message, slots={"s": message.split("\n")[0]})
        assert rs.check(check) == brute_force(rs, check), repr(message)
        if i % 100 == 0:  # and again with what was kept for the recurring texts
            assert rs.check(check) == brute_force(rs, check), repr(message)
