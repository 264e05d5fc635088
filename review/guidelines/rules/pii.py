"""pii: personal data in generated text: emails, phone, card (Luhn), IBAN (mod-97), SSN, UK NI, outside links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import OptionError

KINDS = {
    "email": "email address",
    "phone": "phone number",
    "card": "payment card number",
    "iban": "bank account number (IBAN)",
    "ssn": "US social security number",
    "ni_number": "UK National Insurance number",
    "url": "link outside the brand's domains",
}
_TLDS = "com|org|net|io|co|uk|info|biz|app|dev|me|ly|us|eu|de|fr|example"
# One pass finds every candidate; Python then validates (Luhn, mod-97, SSN ranges, domains).
_PII = re.compile(
    r"(?P<email>(?<![a-z0-9._%+\-])[a-z0-9._%+\-]+@(?P<edomain>[a-z0-9\-]+(?:\.[a-z0-9\-]+)+))"
    r"|(?P<url>(?:https?://|www\.)[^\s<>\"')\]]+|(?<![\w@.\-])(?:[a-z0-9\-]+\.)+(?:" + _TLDS + r")(?![\w\-])(?:/[^\s<>\"')\]]*)?)"
    r"|(?P<iban>(?<![\w])(?-i:[A-Z]{2})\d{2}(?:[ ]?(?-i:[A-Z0-9])){11,30}(?![\w]))"
    r"|(?P<ni>(?<![\w])(?-i:[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?(?-i:[A-D])(?![\w]))"
    r"|(?P<digits>(?<![\w+])\+?\(?\d[\d \-().]{6,}\d(?![\w]))",
    re.IGNORECASE,
)
# Cheap test first: a text with none of these cannot hold a candidate: an @ (email), something
# web-like (url), two letters and two digits (IBAN), three digit pairs (NI number) or a run of
# 8+ digits and separators starting and ending with a digit (phone, card, SSN). Read as
#   @ | www\. | :// | \.(TLD)(?![a-z0-9-]) | [a-z]{2}\d\d | \d\d ?\d\d ?\d\d | \d[\d -().]{6,}\d
# (case-insensitive), but written to start at one of the rare characters @ : . or a digit, with
# what comes before checked behind it: the engine skips ahead to those instead of entering the
# pattern at every letter (4-9x faster on ordinary copy; test_pii pins it to the plain form).
_HINT = re.compile(
    r"[@:.\d](?:(?<=@)|(?<=:)(?=//)|(?<=\.)(?:(?<=(?i:www)\.)|(?i:" + _TLDS + r")(?!(?i:[a-z0-9\-])))"
    r"|(?<=\d)(?:(?<=(?i:[a-z]){2}\d)\d|\d ?\d\d ?\d\d|[\d \-().]{6,}\d))"
)
_SSN = re.compile(r"(\d{3})-(\d{2})-(\d{4})")
_NI_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def ssn_ok(text: str) -> bool:
    m = _SSN.fullmatch(text)
    if not m:
        return False
    area, group, serial = m.groups()
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def classify_digits(text: str) -> str | None:
    """What a run of digits and separators is, if it is personal data at all."""
    if _SSN.fullmatch(text):
        return "ssn" if ssn_ok(text) else None  # SSN-shaped but never issued: not a phone number either
    digits = re.sub(r"\D", "", text)
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return "card"
    if 9 <= len(digits) <= 15:
        return "phone"
    return None


@register("pii")
class Pii(TextRule):
    summary = "Flags personal data in text: emails, phone/card/account/ID numbers, links outside the brand's domains."
    options = {
        "detect": Opt("strlist", doc=f"which kinds to look for: {', '.join(KINDS)} (default: all)"),
        "allowed_domains": Opt("strlist", default=[], doc="domains that may appear in links and emails (added to brand.yaml's)"),
    }
    default_level = "error"
    default_scope = "slot"
    default_message = "Personal data (%s) in generated text: '%s'."
    max_args = 2
    anywhere = True

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        detect = opts.get("detect")
        if detect is None:
            detect = list(KINDS)
        for i, k in enumerate(detect):
            if k not in KINDS:
                raise OptionError(f"unknown kind {k!r} (known: {', '.join(KINDS)})", ("detect", i))
        self.detect = frozenset(detect)
        self.domains = tuple(d.lower().strip().lstrip(".") for d in (*env.allowed_domains, *opts["allowed_domains"]))

    def _allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        norm = st.norm
        for kind, host, vs, ve in _candidates(norm.plain):
            if host is not None and self._allowed(host):
                continue
            if kind is None or kind not in self.detect:
                continue
            start, end = norm.span(vs, ve)
            match = st.original[start:end]
            yield self.finding(st, (start, end), match, KINDS[kind], match, kind=kind)


def _candidates(plain: str) -> list[tuple[str | None, str | None, int, int]]:
    """Every PII candidate of a text: (kind, host, start, end).

    Emails and links carry their host, which each rule checks against its own allowed domains;
    the other kinds are validated here (Luhn, mod-97, ...) since that does not depend on the rule.
    """
    if not _HINT.search(plain):
        return []
    out: list[tuple[str | None, str | None, int, int]] = []
    for m in _PII.finditer(plain):
        group = m.lastgroup
        host = None
        kind: str | None
        if group == "email":
            kind, host = "email", m.group("edomain")
        elif group == "url":
            host = re.sub(r"^(?:https?://)?", "", m.group(0), flags=re.IGNORECASE)
            kind, host = "url", re.split(r"[/:?#]", host, maxsplit=1)[0]
        elif group == "iban":
            kind = "iban" if iban_ok(m.group(0)) else None
        elif group == "ni":
            kind = "ni_number" if m.group(0)[:2].upper() not in _NI_BAD_PREFIX else None
        else:
            kind = classify_digits(m.group(0))
        if kind is None:
            continue
        vs, ve = m.start(), m.end()
        if kind == "url":
            while ve > vs and plain[ve - 1] in ".,;:!?":
                ve -= 1  # the sentence's full stop is not part of the link
        out.append((kind, host, vs, ve))
    return out
