import pytest

from review.guidelines.testing import brand, check, ctx, hits, one_rule

DISCLAIMER = "Harbor Mutual Insurance Ltd is authorised and regulated by the Financial Conduct Authority."


@pytest.mark.parametrize(
    "text, missing",
    [
        (f"Hello.\n\n{DISCLAIMER}", False),
        (f"Hello. {DISCLAIMER.upper()}", False),
        (f"Hello. {DISCLAIMER.replace(' ', chr(160))}", False),  # no-break spaces
        (f"Hello. {DISCLAIMER.replace(' ', '  ')}", False),  # line-wrapped / double spaces
        ("Hello. Harbor Mutual Insurance Ltd is authorised.", True),
        ("Hello.", True),
    ],
)
def test_disclaimer_from_brand_yaml(tmp_path, text, missing):
    rs = brand(tmp_path, {"brand.yaml": f'name: Acme\ndisclaimers:\n  - "{DISCLAIMER}"\n'})
    found = [f for f in rs.check(ctx(text)) if f.rule == "acme.disclaimer-1"]
    assert bool(found) == missing
    if missing:
        assert (found[0].level, found[0].scope, found[0].span) == ("error", "message", None)


def test_any_and_all(tmp_path):
    rs = one_rule(tmp_path, "extends: required\ntokens: [Unsubscribe, /privacy (notice|policy)/]\n")
    assert [f.message for f in hits(rs, "Unsubscribe here")] == ["Missing required text: '/privacy (notice|policy)/'."]
    rs2 = brand(tmp_path / "x", {"rules/r.yaml": "extends: required\nany: true\ntokens: [Unsubscribe, Opt out]\n"})
    assert hits(rs2, "Opt out here") == [] and len(hits(rs2, "Nothing")) == 1


def test_fragments_skip_presence_rules(tmp_path):
    rs = one_rule(tmp_path, "extends: required\ntokens: [Unsubscribe]\n")
    assert rs.check_text("Hello") == [] and len(rs.check_text("Hello", complete=True)) == 1


def test_subject_scope(tmp_path):
    rs = one_rule(tmp_path, "extends: required\nscope: subject\ntokens: [Harbor Mutual]\n")
    assert [f.scope for f in check(rs, ctx("Harbor Mutual", subject="Your renewal"))] == ["subject"]
    assert check(rs, ctx("x", subject="Harbor Mutual: your renewal")) == []
