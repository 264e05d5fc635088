from pathlib import Path

import pytest

from review.guidelines import GuidelineError, GuidelineLoadError, load_ruleset
from review.guidelines.testing import brand

BROKEN = Path(__file__).parent / "fixtures" / "broken"

EXPECTED = {
    (
        "rules/unknown-type.yaml",
        2,
        "unknown rule type 'existance' (known: budget, capitalization, claims, conditional, contradiction, existence, fixed, grounding, "
        "leak, length, mention, occurrence, persona, pii, question, readability, relevance, repetition, required, sensitive, substitution, "
        "superlative) (did you mean 'existence'?)",
    ),
    ("rules/bad-regex.yaml", 4, "bad regular expression '/(unclosed/': missing ), unterminated subpattern at position 0"),
    ("rules/missing-field.yaml", 1, "missing required key 'swap' for rule type 'substitution'"),
    ("rules/wrong-type.yaml", 3, "'max' must be a whole number, not text"),
    ("rules/unknown-key.yaml", 3, "unknown key 'tokenz' for rule type 'existence' (did you mean 'tokens'?)"),
    ("rules/bad-level.yaml", 3, "level must be one of error, warning, suggestion or off, not 'fatal'"),
    ("rules/bad-scope.yaml", 3, "rule type 'leak' only works with scope slot"),
    ("rules/not-yaml.yaml", 3, "not valid YAML: expected ',' or ']', but got '<stream end>'"),
    (
        "rules/yes-key.yaml",
        4,
        "'swap' entries must be text: False: 'none' (YAML reads yes/no/on/off/true/false/null as special values: put the word in quotes)",
    ),
    ("vocab/reject.txt", 3, "bad regular expression '/[z-a]/': bad character range z-a at position 1"),
    ("claims.yaml", 4, "duplicate claim id 'C-1'"),
    ("claims.yaml", 6, "claim 3 is missing 'id'"),
    ("claims.yaml", 7, "status of claim 3 must be active or retired, not 'pending'"),
}


def test_every_problem_in_every_file_is_reported():
    with pytest.raises(GuidelineLoadError) as info:
        load_ruleset(BROKEN)
    got = {(str(Path(e.file).relative_to(BROKEN)), e.line, e.reason) for e in info.value.errors}
    assert got == EXPECTED
    text = str(info.value)
    assert text.startswith(f"{len(EXPECTED)} problem(s) in brand guidelines:")
    assert f"{BROKEN / 'rules' / 'bad-level.yaml'}:3: level must be one of" in text


def test_error_str_format():
    e = GuidelineError("a/b.yaml", 7, "bad thing")
    assert (str(e), e.file, e.line, e.reason) == ("a/b.yaml:7: bad thing", "a/b.yaml", 7, "bad thing")


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("tokens: [x]\n", 1, "missing required key 'extends' (the rule type, e.g. existence)"),
        ("- extends: existence\n", 1, "a rule file must be a mapping of keys to values, not a list"),
        ("extends: existence\ntokens: [a]\ntokens: [b]\n", 3, "duplicate key 'tokens'"),
        ("extends: existence\ntokens: [a, 3]\n", 2, "'tokens' item 2 must be text, not a number"),
        ("extends: existence\ntokens: [a]\nmessage: '%s %s'\n", 3, "message has 2 '%s' placeholders; rule type 'existence' fills at most 1"),
        ("extends: occurrence\ntoken: '('\nmax: 1\n", 2, "bad regular expression '(': missing ), unterminated subpattern at position 0"),
        ("extends: occurrence\ntoken: '!'\n", 1, "give 'max', 'min' or both"),
        ("extends: occurrence\ntoken: '!'\nmax: 1\nmin: 2\n", 4, "'min' is larger than 'max'"),
        (
            "extends: sensitive\ncategories: [health, astrology]\n",
            2,
            "unknown category 'astrology' (known: health, religion, ethnicity, sexuality, politics, money_trouble, creepy)",
        ),
        ("extends: pii\ndetect:\n  - email\n  - dna\n", 4, "unknown kind 'dna' (known: email, phone, card, iban, ssn, ni_number, url)"),
        ("extends: readability\ngrade: 99\n", 2, "'grade' must be between 0 and 30"),
        ("extends: capitalization\n", 1, "give 'names', or 'shouting: true', or both"),
        ("extends: existence\ntokens: [a]\nscope: body\n", 3, "scope must be one of slot, message, subject, fixed, not 'body'"),
    ],
)
def test_single_file_errors(tmp_path, text, line, reason):
    with pytest.raises(GuidelineLoadError) as info:
        brand(tmp_path, {"rules/r.yaml": text})
    assert [(e.line, e.reason) for e in info.value.errors] == [(line, reason)]
    assert info.value.errors[0].file == str(tmp_path / "acme" / "rules" / "r.yaml")


def test_base_rules_are_overridden_by_file_name(tmp_path):
    base = tmp_path / "_base" / "rules"
    base.mkdir(parents=True)
    (base / "words.yaml").write_text("extends: existence\ntokens: [alpha]\n")
    (base / "other.yaml").write_text("extends: existence\ntokens: [beta]\n")
    rs = brand(tmp_path, {"rules/words.yaml": "extends: existence\ntokens: [gamma]\n", "rules/other.yaml": "extends: existence\ntokens: [x]\nlevel: off\n"})
    assert [(f.rule, f.match) for f in rs.check_text("alpha beta gamma")] == [("acme.words", "gamma")]


def test_explicit_base_dir(tmp_path):
    base = tmp_path / "shared"
    (base / "rules").mkdir(parents=True)
    (base / "rules" / "w.yaml").write_text("extends: existence\ntokens: [alpha]\n")
    (tmp_path / "b").mkdir()
    rs = load_ruleset(tmp_path / "b", base_dir=base)
    assert [f.rule for f in rs.check_text("alpha")] == ["_base.w"]


def test_missing_brand_folder(tmp_path):
    with pytest.raises(GuidelineLoadError, match="brand guidelines folder not found"):
        load_ruleset(tmp_path / "nope")


def test_demo_brands_load_and_cover_every_type():
    from review.guidelines import registered_types
    from review.guidelines.testing import GUIDELINES

    used = set()
    for name in ("harbor-mutual", "vitalis-pharma", "northbank"):
        used |= {r.type for r in load_ruleset(GUIDELINES / name).rules}
    assert used == set(registered_types())
