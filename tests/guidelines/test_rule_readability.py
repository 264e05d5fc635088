import pytest

from review.guidelines.rules.readability import grade
from review.guidelines.testing import hits, one_rule

RULE = "extends: readability\ngrade: 9\nmin_words: 10\n"
EASY = "We are here to help. Call us when you like. We will talk it through with you. It is your choice."
HARD = (
    "Notwithstanding the aforementioned contractual stipulations, policyholders' indemnification entitlements "
    "are predominantly contingent upon comprehensive substantiation of circumstantial documentation and "
    "subsequent adjudication by underwriting professionals."
)


@pytest.mark.parametrize("text, flagged", [(EASY, False), (HARD, True), ("Too short to score, really.", False)])
def test_grade_ceiling(tmp_path, text, flagged):
    found = hits(one_rule(tmp_path, RULE), text)
    assert bool(found) == flagged
    if flagged:
        assert found[0].span is None and found[0].message.startswith("Reading grade is ")


def test_grade_is_monotonic():
    assert grade(EASY) < 6 < 15 < grade(HARD)


@pytest.mark.parametrize(
    "text",
    [
        EASY,
        HARD,
        "",
        "Hi. Ok! Yes? No.",
        "It's Sam's plan -- don't worry; we'll 'sort' it... Really?! 100% sure, e.g. Mr. Smith.",
        "Dear customer,\n\nYour renewal documents are attached. Please read them carefully.\n\nKind regards,\nThe Team",
        "Ünïcode wörds — and ‘quotes’ — count too. Three words here! Two words. One.",
    ],
)
def test_counts_match_textstat(text):
    textstat = pytest.importorskip("textstat")
    from review.guidelines.rules.readability import lexicon_count, sentence_count, syllable_count

    assert lexicon_count(text) == textstat.lexicon_count(text)
    assert sentence_count(text) == textstat.sentence_count(text)
    n_words, n_sentences = textstat.lexicon_count(text), max(1, textstat.sentence_count(text))
    syllables = syllable_count(text)
    want = round(0.39 * n_words / n_sentences + 11.8 * syllables / n_words - 15.59, 1) if n_words else 0.0
    assert grade(text) == want
