import pytest

from review.guidelines.testing import hits, one_rule

NAMES = "extends: capitalization\nnames: [Harbor Mutual, Northbank]\n"
SHOUT = "extends: capitalization\nshouting: true\nexceptions: [FSCS]\n"


@pytest.mark.parametrize(
    "text, match, suggestion",
    [
        ("Welcome to harbor mutual", "harbor mutual", "Harbor Mutual"),
        ("Welcome to HARBOR MUTUAL", "HARBOR MUTUAL", "Harbor Mutual"),
        ("Welcome to Harbor-Mutual", "Harbor-Mutual", "Harbor Mutual"),
        ("Welcome to NorthBank", "NorthBank", "Northbank"),
        ("Welcome to N\u043erthbank", "N\u043erthbank", "Northbank"),  # Cyrillic о is still a misspelling
    ],
)
def test_names_misspelled(tmp_path, text, match, suggestion):
    [f] = hits(one_rule(tmp_path, NAMES), text)
    assert (f.match, f.suggestion) == (match, suggestion)


@pytest.mark.parametrize("text", ["Welcome to Harbor Mutual", "Northbank's app", "Write to help@northbank.example", "Visit www.northbank.example/help"])
def test_names_fine(tmp_path, text):
    assert hits(one_rule(tmp_path, NAMES), text) == []


@pytest.mark.parametrize(
    "text, found",
    [
        ("This is HUGE news", ["HUGE"]),
        ("R1SK-FREE cover", ["R1SK-FREE"]),
        ("ＦＲＥＥ cover", ["ＦＲＥＥ"]),  # fullwidth capitals
        ("Protected by the FSCS and the FCA", []),  # exception; FCA too short to shout
        ("Your NEW policy", []),  # three letters: below min_length 4
        ("Thanks for being with us for 5 years, Maria.", []),
    ],
)
def test_shouting(tmp_path, text, found):
    assert [f.match for f in hits(one_rule(tmp_path, SHOUT), text)] == found
