"""Templates: list, create and edit (YAML front matter + Jinja body) with a live preview and
the brand's personalization budget as it is used."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session, col, select

from review.audiences import list_audiences, sample_recipients
from review.brands import policy_for
from review.errors import TemplateError
from review.models import Brand
from review.template_versions import list_templates, save_template
from review.templates import parse_template, render
from ui import common
from ui.highlight import message_html

STARTER = """---
name: New template
channel: email
subject: "Hello {{ recipient.first_name }}"
slots:
  opening:
    instruction: Write one friendly sentence that mentions the customer's city.
    inputs: [city]
    max_words: 20
    examples:
      - We are glad to have you with us in Bristol.
    fallback: We are glad to have you with us.
---
Dear {{ recipient.first_name }},

{{ slots.opening }}

Thank you for choosing us. This paragraph is fixed, approved copy that the
model never touches: your policy documents, your cover and how to reach us stay
exactly as the brand and compliance teams wrote them.

Kind regards,
The customer team
"""


def _line_excerpt(source: str, line: int, context: int = 2) -> str:
    lines = source.replace("\r\n", "\n").split("\n")
    lo, hi = max(1, line - context), min(len(lines), line + context)
    width = len(str(hi))
    return "\n".join(f"{'→' if n == line else ' '} {n:>{width}} │ {lines[n - 1]}" for n in range(lo, hi + 1))


def _budget(spec, policy, slots_text: dict[str, str], body: str) -> None:  # type: ignore[no-untyped-def]
    used, allowed = len(spec.slots), policy.max_slots
    slot_words = sum(len(t.split()) for t in slots_text.values())
    total_words = max(len(body.split()), 1)
    share = slot_words / total_words
    c1, c2 = st.columns(2)
    c1.metric("Slots used / allowed", f"{used} / {allowed}")
    c1.progress(min(used / max(allowed, 1), 1.0))
    limit = policy.max_personalized_share
    c2.metric(
        "Share of words from slots (preview)", f"{share:.0%}", help=f"{slot_words} of {total_words} words" + (f"; brand limit {limit:.0%}" if limit else "")
    )
    c2.progress(min(share / limit, 1.0) if limit else min(share, 1.0))
    if limit and share > limit:
        st.warning(f"Slot text is {share:.0%} of the message; {policy.name} allows at most {limit:.0%}. Shorten the slots or add fixed copy.")


def render_page() -> None:
    user = common.require_user()
    st.title("Templates")
    rows = common.read(lambda s: list_templates(s))
    if rows:
        st.dataframe(
            [
                {"Template": t.name, "Brand": b.name, "Latest version": tv.version, "Saved": common.fmt_ts(tv.created_at), "Fingerprint": tv.content_hash[:12]}
                for t, b, tv in rows
            ],
            hide_index=True,
            key="tpl_table",
        )
    with Session(common.get_engine()) as s:
        brands = {b.slug: b for b in s.exec(select(Brand).order_by(col(Brand.name))).all()}
    if not brands:
        st.error("No brand is configured: add a folder under brand_guidelines/.")
        return
    options = {0: "(new template)", **{tv.id: f"{t.name} (v{tv.version}, {b.name})" for t, b, tv in rows}}
    if "tpl_pick_next" in st.session_state:  # after a save: edit the version just saved
        st.session_state["tpl_pick"] = st.session_state.pop("tpl_pick_next")
    c1, c2 = st.columns([3, 2])
    pick = c1.selectbox("Edit", list(options), format_func=options.get, key="tpl_pick")
    by_id = {tv.id: (t, b, tv) for t, b, tv in rows}
    default_brand = by_id[pick][1].slug if pick in by_id else next(iter(brands))
    slug = c2.selectbox("Brand", list(brands), index=list(brands).index(default_brand), format_func=lambda x: brands[x].name, key=f"tpl_brand_{pick}")
    policy = policy_for(brands[slug])
    initial = by_id[pick][2].source if pick in by_id else STARTER

    editor, preview = st.columns([1, 1], gap="large")
    with editor:
        source = st.text_area("Template (YAML front matter, then the Jinja body)", value=initial, height=520, key=f"tpl_source_{pick}")
        try:
            spec = parse_template(source, policy, name="template")
            error = None
        except TemplateError as e:
            spec, error = None, e
        if error is not None:
            where = f"Line {error.line}: " if error.line else ""
            st.error(f"{where}{error.reason}", icon=":material/error:")
            if error.line:
                st.code(_line_excerpt(source, error.line), language=None)
        else:
            fields = ", ".join(spec.merge_fields + spec.slot_fields()) or "none"
            st.success(f"Valid: {len(spec.slots)} slot(s), fields used: {fields}.", icon=":material/check_circle:")
        if st.button("Save as new version", key="tpl_save", type="primary", disabled=error is not None):
            out = common.call(save_template, user, brand_slug=slug, source=source, filename="template")
            if out.ok:
                common.flash(f"Saved version {out.value.version} (fingerprint {out.value.content_hash[:12]}).", "success")
                st.session_state["tpl_pick_next"] = out.value.id
                st.rerun()
    with preview:
        st.markdown("**Live preview**")
        if spec is None:
            st.info("Fix the template to see the preview.")
            return
        auds = common.read(lambda s: list_audiences(s))
        if not auds:
            st.info("Import an audience to preview with a real recipient.")
            return
        a1, a2 = st.columns(2)
        aud_id = a1.selectbox("Audience", [a.id for a in auds], format_func=lambda i: next(a.name for a in auds if a.id == i), key="tpl_aud")
        recips = common.read(lambda s: sample_recipients(s, aud_id, 25))
        rid = a2.selectbox(
            "Sample recipient",
            [r.id for r in recips],
            format_func=lambda i: next(f"{r.external_id} · {r.data.get('first_name', '')}" for r in recips if r.id == i),
            key="tpl_recipient",
        )
        fill = st.radio("Fill slots with", ["first example", "human-written fallback"], horizontal=True, key="tpl_fill")
        slots_text = {k: (s.examples[0] if fill == "first example" and s.examples else s.fallback) for k, s in spec.slots.items()}
        recipient = next(r for r in recips if r.id == rid)
        shown = {k: v for k, v in recipient.data.items() if k not in policy.sensitive_fields}
        try:
            out = render(spec, shown, slots_text, policy.as_render_context())
        except TemplateError as e:
            st.error(str(e), icon=":material/error:")
            return
        st.markdown(message_html(out.subject, out.fixed_segments, out.slot_sequence, slots_text, []), unsafe_allow_html=True)
        st.markdown("**Personalization budget**")
        _budget(spec, policy, {k: slots_text[k] for k in out.slot_sequence}, out.body)


if __name__ == "__main__":
    render_page()
