"""Templates page: list, edit with live validation (errors at their line), preview, budget, save."""

from __future__ import annotations

from sqlmodel import select
from ui_helpers import errors

from review.models import TemplateVersion

PAGE = "ui/pages/templates.py"


def raw(at, pick=0):
    """The raw editor (the builder is where the page starts)."""
    at.radio(key=f"tpl_mode_{pick}").set_value("Raw editor").run()
    assert not at.exception
    return at


def test_new_template_preview_budget_and_save(app, world):
    at = raw(app("maria", page=PAGE))
    names = set(next(df for df in at.dataframe if "Template" in df.value.columns).value["Template"])
    assert "Policy renewal reminder" in names
    assert at.selectbox(key="tpl_pick").value == 0  # "New template"
    assert any("Valid: 1 slot(s)" in s.value for s in at.success)
    html = "\n".join(m.value for m in at.markdown)
    assert "<mark" in html and "Subject: Hello" in html
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Slots used / allowed"] == "1 / 3"
    assert metrics["Share of words from slots (preview)"].endswith("%")
    source = at.text_area(key="tpl_source_0").value.replace("name: New template", "name: Spring hello")
    at.text_area(key="tpl_source_0").input(source)
    at.button(key="tpl_save").click().run()
    assert not at.exception
    assert not errors(at)
    with world.session() as s:
        tv = s.exec(select(TemplateVersion).order_by(TemplateVersion.id.desc())).first()  # type: ignore[attr-defined]
    assert tv is not None and "Spring hello" in tv.source and tv.version == 1
    assert world.events("template_version_saved")[-1].after["template"] == "Spring hello"


def test_errors_are_shown_at_their_line(app, world):
    at = raw(app("maria", page=PAGE))
    src = at.text_area(key="tpl_source_0").value
    broken = src.replace("{{ slots.opening }}", "{{ slots.opening }}\n{{ slots.closing }}")
    line = broken.split("\n").index("{{ slots.closing }}") + 1
    at.text_area(key="tpl_source_0").input(broken).run()
    assert not at.exception
    assert errors(at) == [f"Line {line}: slot 'closing' is used but not declared in the front matter"]
    assert any(f"→ {line} │ {{{{ slots.closing }}}}" in c.value for c in at.code)
    assert at.button(key="tpl_save").disabled


def test_sensitive_field_is_refused(app, world):
    at = raw(app("maria", page=PAGE))
    src = at.text_area(key="tpl_source_0").value.replace("inputs: [city]", "inputs: [health_condition]")
    at.text_area(key="tpl_source_0").input(src).run()
    assert not at.exception
    assert any("health_condition" in e and "sensitive" in e for e in errors(at))


def test_hostile_template_is_one_line_never_a_traceback(app, world):
    at = raw(app("maria", page=PAGE))
    src = at.text_area(key="tpl_source_0").value.replace("Kind regards,", "{% include 'x' %}{{ 'a' * 1000000000 }}")
    line = src.split("\n").index("{% include 'x' %}{{ 'a' * 1000000000 }}") + 1
    at.text_area(key="tpl_source_0").input(src).run()
    assert not at.exception
    assert errors(at) == [f"Line {line}: {{% include %}} is not allowed: a template holds fixed copy, slots, recipient fields, if and for"]
    assert at.button(key="tpl_save").disabled


def test_edit_existing_template_makes_a_new_version(app, world):
    at = raw(app("maria", page=PAGE))
    from review.template_versions import list_templates

    with world.session() as s:
        tv_id = next(tv.id for t, _, tv in list_templates(s) if t.name == "Policy renewal reminder")
    at.selectbox(key="tpl_pick").set_value(tv_id).run()
    raw(at, tv_id)
    tv_key = next(t.key for t in at.text_area if t.key and t.key.startswith("tpl_source_"))
    src = at.text_area(key=tv_key).value
    at.text_area(key=tv_key).input(src.replace("Kind regards,", "With kind regards,"))
    at.button(key="tpl_save").click().run()
    assert not at.exception
    assert any("Saved version 2" in s.value for s in at.success)
