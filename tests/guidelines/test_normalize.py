import pytest

from review.guidelines.normalize import fold, normalize


@pytest.mark.parametrize(
    "text, folded",
    [
        ("R1SK-FREE", "risk-free"),
        ("risk\u2011free", "risk-free"),  # non-breaking hyphen
        ("risk\u2013free", "risk-free"),  # en dash
        ("risk\u2212free", "risk-free"),  # minus sign
        ("risk\u200bfree", "riskfree"),  # zero-width space removed
        ("risk\u00adfree", "riskfree"),  # soft hyphen removed
        ("ri\u200dsk\ufefffree", "riskfree"),  # joiner, BOM
        ("R\u0456sk-fr\u0435\u0435", "risk-free"),  # Cyrillic і and е
        ("\u03a1\u0399\u03a3\u039a", "pi\u03c3k"),  # Greek capitals fold where they look Latin
        ("ｒｉｓｋ", "risk"),  # fullwidth (NFKC)
        ("ﬁne", "fine"),  # ligature (NFKC)
        ("caf\u00e9 r\u00efsk", "cafe risk"),  # accents dropped
        ("risk\u00a0free", "risk free"),  # no-break space
        ("risk\u202ffree", "risk free"),  # narrow no-break space
        ("\u201cb3st\u201d", '"best"'),
        ("gu@r@nteed $ave", "guaranteed save"),
    ],
)
def test_folding(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize("text", ["5 years", "1st class", "5mg dose", "COVID-19", "24/7", "0800 123 4567", "10am"])
def test_numbers_are_not_leetspeak(text: str) -> None:
    assert fold(text) == text.lower()


@pytest.mark.parametrize(
    "text, view_span, original_span",
    [
        ("a risk\u200bfree b", (2, 10), (2, 11)),  # zero-width char inside the span
        ("\u200b\u200bRISK", (0, 4), (2, 6)),  # invisibles before
        ("ﬁne risk", (5, 9), (4, 8)),  # ligature expands 1 -> 2 characters
        ("ﬁne risk", (0, 2), (0, 1)),  # both halves of the ligature map to it
        ("caf\u0065\u0301 risk", (5, 9), (6, 10)),  # combining accent removed
    ],
)
def test_offsets_map_back_to_original(text: str, view_span: tuple[int, int], original_span: tuple[int, int]) -> None:
    n = normalize(text)
    assert len(n.plain) == len(n.folded)
    assert n.span(*view_span) == original_span


def test_ascii_is_identity() -> None:
    n = normalize("Plain text.")
    assert n.starts is None and n.span(0, 5) == (0, 5) and n.plain == "Plain text."


def test_fold_leet_equals_folding_every_run():
    """Only runs holding a leet character go through the callback; the result is as if all did."""
    import random
    import re

    from review.guidelines.normalize import _LEET_HINT, _unleet_token, fold_leet

    every_run = re.compile(r"[a-z0-9@$]+")
    rnd = random.Random(2)
    changed = 0
    for _ in range(3000):
        text = "".join(rnd.choice("ab st1305@$ -.\n9x") for _ in range(rnd.randint(0, 20)))
        want = every_run.sub(_unleet_token, text) if _LEET_HINT.search(text) else text
        assert fold_leet(text) == want, text
        changed += want != text
    assert changed > 500


def test_underscores_read_as_spaces_in_the_folded_view_only():
    n = normalize("risk_free first_name")
    assert (n.plain, n.folded) == ("risk_free first_name", "risk free first name")


def test_words_spelled_out_with_spaces_are_read_as_words():
    text = "A r i s k - f r e e plan, g u a r a n t e e d."
    n = normalize(text)
    assert n.folded == "a risk - free plan, guaranteed."
    start = n.folded.index("guaranteed")
    assert text[slice(*n.span(start, start + len("guaranteed")))] == "g u a r a n t e e d"


@pytest.mark.parametrize(
    "text",
    ["Was I a fool? Options a, b and c.", "Plan A or B, vitamin D and e-mail.", "I am here.", "U.K. and i.e. and e.g.", "Ann's a b"],
)
def test_ordinary_prose_is_not_collapsed(text):
    n = normalize(text)
    assert n.plain == text and len(n.folded) == len(text)


def test_joined_or_spelled_out_banned_terms_are_caught_by_the_rules(tmp_path):
    from review.guidelines.testing import brand, matches

    rs = brand(tmp_path, {"rules/r.yaml": "extends: existence\ntokens: [risk-free, guaranteed]\n"})
    for text, found in [
        ("A risk_free plan.", ["risk_free"]),
        ("A r i s k - f r e e plan.", ["r i s k - f r e e"]),
        ("It is g u a r a n t e e d.", ["g u a r a n t e e d"]),
        ("R I S K F R E E", ["R I S K F R E E"]),
        ("A fair plan with a guarantee of support and free advice on risk.", []),
    ]:
        assert matches(rs, text) == found, text
