"""Server-side template injection and sandbox escapes: refused when the template is saved, with
the line, never at generation time; whatever reaches the sandbox anyway is refused there."""

from __future__ import annotations

import dataclasses

import pytest

from review.brands import BrandPolicy
from review.errors import TemplateError
from review.templates import parse_template, render

POLICY = BrandPolicy(slug="t", name="Test", industry="x", allowed_fields=("first_name", "city"), sensitive_fields=("religion",))
TEMPLATE = """---
name: Hello
subject: "Hi {{ recipient.first_name }}"
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
Fixed copy.
"""
PAYLOAD_LINE = 13

# payload -> a fragment of the refusal
SSTI = {
    "{{ recipient.__class__ }}": "not a field or slot name",
    "{{ recipient['__class__'] }}": "not a field or slot name",
    "{{ slots.__class__ }}": "not a field or slot name",
    "{{ recipient.first_name.__class__.__mro__[1].__subclasses__() }}": "a function or method call",
    "{{ ''.__class__.__mro__ }}": "attribute access is only allowed",
    "{{ (recipient.first_name).__class__ }}": "attribute access is only allowed",
    "{{ recipient.first_name.upper() }}": "a function or method call",
    "{{ self._TemplateReference__context }}": "unknown name 'self'",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}": "a function or method call",
    "{{ lipsum.__globals__ }}": "unknown name 'lipsum'",
    "{{ namespace() }}": "a function or method call",
    "{{ config }}": "unknown name 'config'",
    "{{ request.application }}": "unknown name 'request'",
    "{{ brand.__class__ }}": "brand.__class__ is not available",
    "{{ brand.directory }}": "brand.directory is not available",
    "{{ recipient.first_name|attr('__class__') }}": "the filter 'attr' is not allowed",
    "{{ recipient.first_name|format('%s') }}": "the filter 'format' is not allowed",
    "{{ recipient.first_name|map('upper')|list }}": "the filter 'list' is not allowed",
    "{{ recipient.first_name|join(*recipient.city) }}": "filter arguments must be written out",
    "{{ recipient.first_name|join(recipient.city) }}": "literal arguments only",
    "{{ recipient.first_name[0:1] }}": "attribute access is only allowed",
    "{{ recipient[0:1] }}": "must use a literal field name",
    "{{ recipient[recipient.city] }}": "must use a literal field name",
    "{{ recipient.first_name is string }}": "an 'is' test",
    "{{ {'a': 1} }}": "a dict literal",
    "{% include 'secrets.txt' %}": "{% include %} is not allowed",
    "{% import 'macros.j2' as m %}": "{% import %} is not allowed",
    "{% from 'macros.j2' import m %}": "{% from ... import %} is not allowed",
    "{% extends 'base.j2' %}": "{% extends %} is not allowed",
    "{% macro m() %}x{% endmacro %}": "{% macro %} is not allowed",
    "{% call recipient.first_name() %}x{% endcall %}": "{% call %} is not allowed",
    "{% set x = recipient.first_name %}": "{% set %} is not allowed",
    "{% set x %}a{% endset %}": "{% set %} is not allowed",
    "{% block b %}x{% endblock %}": "{% block %} is not allowed",
    "{% filter upper %}x{% endfilter %}": "{% filter %} is not allowed",
    "{% with a = recipient.city %}{{ a }}{% endwith %}": "{% with %} is not allowed",
    "{% autoescape false %}x{% endautoescape %}": "{% autoescape %} is not allowed",
    "{% for c in recipient.first_name %}{{ c.__class__ }}{% endfor %}": "attribute access is only allowed",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}": "may only loop over a recipient field",
    "{% for c in recipient.first_name %}{{ loop.cycle.__globals__ }}{% endfor %}": "attribute access is only allowed",
    "{{ recipient.religion }}": "sensitive field",
    "{{ recipient.postcode }}": "not in brand 'Test' allowed_fields",
}


@pytest.mark.parametrize("payload", list(SSTI))
def test_refused_at_save_with_the_line(payload: str) -> None:
    with pytest.raises(TemplateError) as e:
        parse_template(TEMPLATE.replace("PAYLOAD", payload), POLICY, name="t.j2")
    assert SSTI[payload] in e.value.reason, str(e.value)
    assert e.value.line == PAYLOAD_LINE, str(e.value)


@pytest.mark.parametrize("payload", ["{{ recipient.__class__ }}", "{{ recipient.first_name.lower() }}", "{% include 'x' %}"])
def test_refused_in_the_subject_too(payload: str) -> None:
    src = TEMPLATE.replace("PAYLOAD", "").replace('"Hi {{ recipient.first_name }}"', repr(payload).replace("'", '"').replace('""', "'"))
    with pytest.raises(TemplateError) as e:
        parse_template(src, POLICY, name="t.j2")
    assert e.value.line == 3, str(e.value)


def test_what_a_message_needs_is_allowed() -> None:
    body = (
        "{% if recipient.city == 'Leeds' and not recipient.first_name in ['x', 'y'] %}Hi Leeds{% elif recipient.city %}Hi"
        "{% else %}Hello{% endif %} {{ recipient.first_name|upper|trim }} {{ 'a' ~ recipient.city|lower }}"
        "{% for d in brand.disclaimers %}[{{ d }}]{% else %}none{% endfor %}{{ recipient.city if recipient.city else 'there' }}"
    )
    spec = parse_template(TEMPLATE.replace("PAYLOAD", body), POLICY)
    out = render(spec, {"first_name": " ann ", "city": "Leeds"}, {"opening": "Hey."}, {"disclaimers": ["D1", "D2"], "name": "T", "industry": "x"})
    assert "Hi Leeds ANN aleeds[D1][D2]Leeds" in out.body


# Values and slot texts are data: printed as they are, never evaluated.
INERT = ["{{ 7*7 }}", "{% include 'x' %}", "{{ recipient.__class__ }}", "${7*7}", "<%= 7*7 %>", "#{7*7}", "{{ config.items() }}", "{% raw %}"]


@pytest.mark.parametrize("value", INERT)
def test_template_syntax_in_data_is_inert(value: str) -> None:
    spec = parse_template(TEMPLATE.replace("PAYLOAD", ""), POLICY)
    out = render(spec, {"first_name": value, "city": value}, {"opening": value})
    assert out.subject == f"Hi {value}"
    assert out.body.count(value) == 2 and "49" not in out.body


def test_a_template_saved_before_vetting_meets_the_sandbox() -> None:
    spec = parse_template(TEMPLATE.replace("PAYLOAD", ""), POLICY)
    for body in (
        "{{ recipient.first_name.__class__.__mro__[1].__subclasses__() }}",
        "{{ recipient.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{% include 'x' %}",
        "{% extends 'x' %}",
        "{% import 'x' as y %}{{ y }}",
        "{{ 1/0 }}",
        "{{ recipient.missing }}",
    ):
        old = dataclasses.replace(spec, body=body + "{{ slots.opening }}")
        with pytest.raises(TemplateError, match="t.j2|Hello"):
            render(old, {"first_name": "Ann", "city": "Leeds"}, {"opening": "x"})
