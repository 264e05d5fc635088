import pytest

from review.guidelines.testing import hits, one_rule

BANGS = 'extends: occurrence\ntoken: "!"\nmax: 1\nmessage: "%s exclamation marks."\n'


@pytest.mark.parametrize(
    "text, span, count",
    [
        ("Hi! Bye!", (7, 8), 2),
        ("Wow!!!", (4, 6), 3),
        ("Hi\uff01 Bye\uff01", (7, 8), 2),  # fullwidth exclamation marks fold to '!'
    ],
)
def test_too_many(tmp_path, text, span, count):
    [f] = hits(one_rule(tmp_path, BANGS), text)
    assert (f.span, f.message) == (span, f"{count} exclamation marks.")


@pytest.mark.parametrize("text", ["Hi!", "Calm.", ""])
def test_within_limit(tmp_path, text):
    assert hits(one_rule(tmp_path, BANGS), text) == []


def test_sentence_length(tmp_path):
    rs = one_rule(tmp_path, 'extends: occurrence\ntoken: "\\\\w+"\nper: sentence\nmax: 5\n')
    text = "Short one. This sentence has far too many words in it. Fine again."
    [f] = hits(rs, text)
    assert f.match == "This sentence has far too many words in it." and f.span == (11, 54)


def test_minimum(tmp_path):
    rs = one_rule(tmp_path, 'extends: occurrence\ntoken: "\\\\w+"\nmin: 3\nscope: slot\n')
    assert len(hits(rs, "Hi there", scope="slot")) == 1 and hits(rs, "Hi there you", scope="slot") == []
