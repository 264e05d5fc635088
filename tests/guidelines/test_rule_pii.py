import pytest

from review.guidelines.testing import hits, one_rule

RULE = "extends: pii\nscope: slot\nallowed_domains: [harbormutual.example]\n"


@pytest.mark.parametrize(
    "text, match, kind",
    [
        ("Write to maria.lopez@gmail.com today", "maria.lopez@gmail.com", "email address"),
        ("Write to maria\u200b@gmail.com", "maria\u200b@gmail.com", "email address"),
        ("Call 07700 900123", "07700 900123", "phone number"),
        ("Call +44 20 7946 0958.", "+44 20 7946 0958", "phone number"),
        ("Call (555) 123-4567", "(555) 123-4567", "phone number"),
        ("Card 4111 1111 1111 1111 on file", "4111 1111 1111 1111", "payment card number"),
        ("Card 4111-1111-1111-1111", "4111-1111-1111-1111", "payment card number"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32", "bank account number (IBAN)"),
        ("IBAN DE89370400440532013000", "DE89370400440532013000", "bank account number (IBAN)"),
        ("SSN 123-45-6789", "123-45-6789", "US social security number"),
        ("NI number AB 12 34 56 C", "AB 12 34 56 C", "UK National Insurance number"),
        ("See https://evil.example.com/x.", "https://evil.example.com/x", "link outside the brand's domains"),
        ("See www.cheap-quotes.com", "www.cheap-quotes.com", "link outside the brand's domains"),
        ("See bit.ly/abc", "bit.ly/abc", "link outside the brand's domains"),
    ],
)
def test_detects(tmp_path, text, match, kind):
    [f] = hits(one_rule(tmp_path, RULE), text, scope="slot")
    assert (f.match, f.level, f.message) == (match, "error", f"Personal data ({kind}) in generated text: '{match}'.")
    assert text[f.span[0] : f.span[1]] == match


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 fails Luhn",  # 16 digits, not a card, too long for a phone
        "IBAN GB82 WEST 1234 5698 7654 33 fails mod-97",
        "SSN 000-12-3456 is not issued",
        "NI number BG 12 34 56 C is not issued",
        "Visit https://www.harbormutual.example/renew or help@harbormutual.example",
        "Since 2019, 5 years, 12.5% and £1,250.00",
        "Call us on 0800 123",
        "Thanks for being with us for 5 years, Maria.",
    ],
)
def test_ignores(tmp_path, text):
    assert hits(one_rule(tmp_path, RULE), text, scope="slot") == []


def test_detect_subset(tmp_path):
    rs = one_rule(tmp_path, "extends: pii\ndetect: [email]\n")
    assert [f.match for f in hits(rs, "a@b.com 07700 900123")] == ["a@b.com"]


def test_brand_allowed_domains(tmp_path):
    rs = one_rule(tmp_path, "extends: pii\n", {"brand.yaml": "name: A\nallowed_domains: [acme.example]\n"})
    assert hits(rs, "Visit https://help.acme.example/x") == []


def test_pre_check_says_what_its_plain_form_says():
    """_HINT is written for speed; it must accept exactly the texts its plain form accepts."""
    import random
    import re

    from review.guidelines.rules.pii import _HINT, _TLDS

    plain = re.compile(r"@|www\.|://|\.(?:" + _TLDS + r")(?![a-z0-9\-])|[a-z]{2}\d\d|\d\d ?\d\d ?\d\d|\d[\d \-().]{6,}\d", re.IGNORECASE)
    rnd = random.Random(9)
    alphabet = "ab.:/@w 0123-()+xyz\nTcomukWWWCOMUK\u0130\u212a\u017f."
    hits = 0
    for _ in range(60000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 16)))
        want = plain.search(text) is not None
        assert (_HINT.search(text) is not None) == want, repr(text)
        hits += want
    assert 5000 < hits < 55000
