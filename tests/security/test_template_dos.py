"""Template denial of service: huge literals, repetition, powers, loops, huge or non-UTF-8 files.
Refused at save with the line; the sandbox and the render caps stop whatever gets past that.
The rendering bombs run in a child capped at 1 GB: each would need gigabytes if it went off."""

from __future__ import annotations

import pytest

from review.brands import BrandPolicy
from review.errors import TemplateError
from review.templates import MAX_TEMPLATE_CHARS, parse_template, read_template_file

POLICY = BrandPolicy(slug="t", name="Test", industry="x", allowed_fields=("first_name", "city"))
TEMPLATE = """---
name: Hello
slots:
  opening:
    instruction: Say hello.
    inputs: [city]
    max_words: 12
    fallback: Hello from us.
---
Dear {{ recipient.first_name }},
{{ slots.opening }}
PAYLOAD
"""
LINE = 12

SAVE_BOMBS = {
    "{{ 'a' * 1000000000 }}": "arithmetic ('*')",
    "{{ 'abc' * 100000 * 100000 }}": "arithmetic ('*')",
    "{{ recipient.first_name * 300000000 }}": "arithmetic ('*')",
    "{{ 2**100000 }}": "arithmetic ('**')",
    "{{ 9**9**9 }}": "arithmetic ('**')",
    "{{ 99999999999999999999 }}": "a number larger than",
    "{{ '" + "x" * 5000 + "' }}": "a text literal longer than",
    "{{ ('x' ~ 'y') * 10 }}": "arithmetic ('*')",
    "{{ -1 }}": "arithmetic ('-')",
    "{{ range(1000000000)|length }}": "a function or method call",
    "{{ recipient.first_name|center(1000000000) }}": "the filter 'center' is not allowed",
    "{{ recipient.first_name|indent(1000000000) }}": "the filter 'indent' is not allowed",
    "{{ recipient.first_name|replace('', recipient.first_name) }}": "the filter 'replace' is not allowed",
    "{% for a in recipient.first_name %}{% for b in recipient.first_name %}x{% endfor %}{% endfor %}": "a loop inside a loop",
    "{% for a in recipient.first_name recursive %}{{ loop(a) }}{% endfor %}": "a recursive loop",
    "{% for a, b in recipient.first_name %}x{% endfor %}": "one loop variable",
}


@pytest.mark.parametrize("payload", list(SAVE_BOMBS), ids=[p[:60] for p in SAVE_BOMBS])
def test_refused_at_save_with_the_line(payload: str) -> None:
    with pytest.raises(TemplateError) as e:
        parse_template(TEMPLATE.replace("PAYLOAD", payload), POLICY, name="t.j2")
    assert SAVE_BOMBS[payload] in e.value.reason, str(e.value)
    assert e.value.line == LINE


def test_a_huge_template_is_refused_before_parsing() -> None:
    with pytest.raises(TemplateError, match="longer than 100,000 characters"):
        parse_template(TEMPLATE.replace("PAYLOAD", "x" * (MAX_TEMPLATE_CHARS + 1)), POLICY)


def test_template_files_must_be_utf8_and_template_sized(tmp_path) -> None:  # type: ignore[no-untyped-def]
    latin = tmp_path / "latin.j2"
    latin.write_bytes(TEMPLATE.replace("PAYLOAD", "Caf\xe9").encode("latin-1"))
    with pytest.raises(TemplateError) as e:
        read_template_file(latin)
    assert str(e.value) == f"{latin}, line {LINE}: not UTF-8 text (save the file as UTF-8)"
    big = tmp_path / "big.j2"
    with big.open("wb") as f:
        f.truncate(2 * 1024**3)  # sparse: reading it whole would be the failure
    with pytest.raises(TemplateError, match="larger than"):
        read_template_file(big)


def test_the_sandbox_and_caps_stop_bombs_that_skip_the_vetting(guarded) -> None:  # type: ignore[no-untyped-def]
    """Templates rendered without passing the save-time checks (as a version stored before them
    would be): compiled without constant folding, `*` and `**` bounded, output capped."""
    got = guarded(
        """
        import dataclasses, json
        from review.brands import BrandPolicy
        from review.errors import TemplateError
        from review.templates import _ENV, parse_template, render

        bombs = [
            "{{ 'a' * 1000000000 }}",
            "{{ ('a' * 1000) * 1000000 }}",
            "{{ 'abc' * 10**9 }}",
            "{{ recipient.first_name * 300000000 }}",
            "{{ [1, 2] * 1000000000 }}",
            "{{ 2**100000 }}",
            "{{ 9**9**9 }}",
            "{{ (2**60) * (2**60) * (2**60) * (2**60) * (2**60) }}",
            "{% for a in recipient.first_name %}{% for b in recipient.first_name %}{% for c in recipient.first_name %}"
            "{{ recipient.first_name }}{% endfor %}{% endfor %}{% endfor %}",
            "{% for a in recipient.first_name %}{{ recipient.first_name|join(recipient.first_name) }}{% endfor %}",
        ]
        policy = BrandPolicy(slug="t", name="Test", industry="x", allowed_fields=("first_name",))
        src = "---\\nname: T\\nslots:\\n  o:\\n    instruction: x\\n    max_words: 5\\n    fallback: hi\\n---\\n{{ slots.o }}\\n"
        spec = parse_template(src, policy)
        out = []
        for body in bombs:
            _ENV.from_string(body)  # compiling must not build anything (no constant folding)
            old = dataclasses.replace(spec, body=body + "{{ slots.o }}")
            try:
                render(old, {"first_name": "N" * 500}, {"o": "x"})
                out.append("rendered")
            except TemplateError as e:
                out.append(str(e))
        print(json.dumps(out))
        """
    )
    assert len(got) == 10
    for msg in got:
        assert msg.startswith("T: ") and ("refused by the sandbox" in msg or "longer than 100,000 characters" in msg), msg
