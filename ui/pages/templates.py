"""Templates: list, create and edit (YAML front matter + Jinja body) with a live preview and
the brand's personalization budget as it is used."""

from __future__ import annotations

from typing import Any

import streamlit as st

from review.brands import BrandPolicy, policy_for
from review.errors import TemplateError
from review.guidelines.rule import word_count
from review.template_versions import save_template
from review.templates import parse_template, render
from review.views import audience_sample, audiences, brands_by_slug, templates
from ui import common
from ui.highlight import message_html
from ui.template_form import FormUnsupported, SlotForm, TemplateForm, budget, field_tag, parse_form, slot_tag, valid_slot_name, write_form

MODES = ("Builder", "Raw editor")
CHANNELS = ("email", "sms", "push", "letter")

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
    slot_words = sum(word_count(t) for t in slots_text.values())
    total_words = max(word_count(body), 1)
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


# ------------------------------------------------------------------ the builder


def _editor(pick: int, initial: str, policy: BrandPolicy) -> str:
    """The template's source, from the builder (form fields) or the raw editor. Switching carries
    the text across: the raw editor starts from what the builder wrote, the builder re-reads what
    the raw editor holds."""
    mode_key, raw_key, last_key = f"tpl_mode_{pick}", f"tpl_source_{pick}", f"tpl_mode_was_{pick}"
    mode = st.radio("Edit with", MODES, horizontal=True, key=mode_key, help="The builder writes the same template file the raw editor shows.")
    was = st.session_state.get(last_key, mode)
    st.session_state[last_key] = mode
    if mode == "Raw editor":
        if was == "Builder" and f"tpl_built_{pick}" in st.session_state:
            st.session_state[raw_key] = st.session_state[f"tpl_built_{pick}"]
        return st.text_area("Template (YAML front matter, then the Jinja body)", value=initial, height=520, key=raw_key)  # type: ignore[no-any-return]
    if was == "Raw editor":  # start the form again from the raw text
        _forget_builder(pick)
        initial = st.session_state.get(raw_key, initial)
    built = _builder(pick, initial, policy)
    if built is None:  # a template the builder cannot write: the raw editor it is
        return st.text_area("Template (YAML front matter, then the Jinja body)", value=initial, height=520, key=raw_key)  # type: ignore[no-any-return]
    st.session_state[f"tpl_built_{pick}"] = built
    with st.expander("The template file the builder writes"):
        st.code(built, language="django")
    return built


def _k(pick: int, *parts: Any) -> str:
    return "bf_" + "_".join(str(p) for p in (pick, *parts))


def _forget_builder(pick: int) -> None:
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(_k(pick, ""))]:
        del st.session_state[key]


def _init_builder(pick: int, form: TemplateForm) -> None:
    ss = st.session_state
    ss[_k(pick, "meta")] = (form.quoted, form.order)
    ss[_k(pick, "slots")] = [s.name for s in form.slots]
    ss[_k(pick, "name")] = form.name
    ss[_k(pick, "channel")] = form.channel if form.channel in CHANNELS else "email"
    ss[_k(pick, "description")] = form.description or ""
    ss[_k(pick, "subject")] = form.subject or ""
    ss[_k(pick, "body")] = form.body
    for s in form.slots:
        _init_slot(pick, s)


def _init_slot(pick: int, s: SlotForm) -> None:
    ss = st.session_state
    ss[_k(pick, "s", s.name, "instruction")] = s.instruction
    ss[_k(pick, "s", s.name, "inputs")] = list(s.inputs)
    ss[_k(pick, "s", s.name, "must_name")] = list(s.must_name or [])
    ss[_k(pick, "s", s.name, "max_words")] = int(s.max_words)
    ss[_k(pick, "s", s.name, "examples")] = "\n".join(s.examples)
    ss[_k(pick, "s", s.name, "fallback")] = s.fallback
    ss[_k(pick, "s", s.name, "mode")] = (s.mode, s.base, list(s.alternatives_lines))  # kept as read (raw editor edits them)


def _form_from_state(pick: int) -> TemplateForm:
    ss = st.session_state
    quoted, order = ss[_k(pick, "meta")]
    slots = [
        SlotForm(
            name=n,
            instruction=ss.get(_k(pick, "s", n, "instruction"), ""),
            inputs=list(ss.get(_k(pick, "s", n, "inputs"), [])),
            must_name=[f for f in ss.get(_k(pick, "s", n, "must_name"), []) if f in ss.get(_k(pick, "s", n, "inputs"), [])] or None,
            max_words=int(ss.get(_k(pick, "s", n, "max_words"), 20)),
            examples=[e.strip() for e in str(ss.get(_k(pick, "s", n, "examples"), "")).split("\n") if e.strip()],
            fallback=ss.get(_k(pick, "s", n, "fallback"), ""),
            **dict(zip(("mode", "base", "alternatives_lines"), ss.get(_k(pick, "s", n, "mode"), (None, None, [])), strict=True)),
        )
        for n in ss[_k(pick, "slots")]
    ]
    description = ss.get(_k(pick, "description"), "")
    subject = ss.get(_k(pick, "subject"), "")
    return TemplateForm(
        name=ss.get(_k(pick, "name"), ""),
        channel=ss.get(_k(pick, "channel"), "email"),
        description=description or None,
        subject=subject or None,
        slots=slots,
        body=ss.get(_k(pick, "body"), ""),
        quoted=quoted,
        order=order,
    )


def _append(key: str, text: str) -> None:
    """Insert a tag where the writer will see it: Streamlit gives no cursor position, so at the end."""
    body = st.session_state.get(key, "")
    st.session_state[key] = body + ("" if not body or body.endswith(("\n", " ")) else " ") + text


def _add_slot(pick: int) -> None:
    name = str(st.session_state.get(_k(pick, "new_slot"), "")).strip()
    names = st.session_state[_k(pick, "slots")]
    if not valid_slot_name(name) or name in names:
        st.session_state[_k(pick, "slot_error")] = f"'{name}' cannot be a slot name: use lower-case letters, digits and _ , not a name already used."
        return
    st.session_state.pop(_k(pick, "slot_error"), None)
    names.append(name)
    _init_slot(pick, SlotForm(name, instruction="", inputs=[], max_words=10, examples=[], fallback=""))
    _append(_k(pick, "body"), slot_tag(name) + "\n")
    st.session_state[_k(pick, "new_slot")] = ""


def _remove_slot(pick: int, name: str) -> None:
    st.session_state[_k(pick, "slots")] = [n for n in st.session_state[_k(pick, "slots")] if n != name]
    body_key = _k(pick, "body")
    st.session_state[body_key] = st.session_state.get(body_key, "").replace(slot_tag(name) + "\n", "").replace(slot_tag(name), "")


def _builder(pick: int, initial: str, policy: BrandPolicy) -> str | None:
    """Form fields for the template; the source they write, or None for the raw editor."""
    if _k(pick, "meta") not in st.session_state:
        try:
            form = parse_form(initial)
        except FormUnsupported as e:
            st.info(f"This template is edited in the raw editor: {e}.", icon=":material/code:")
            return None
        _init_builder(pick, form)
    fields = [f for f in policy.allowed_fields if f not in policy.sensitive_fields]
    c1, c2 = st.columns([3, 1])
    c1.text_input("Template name", key=_k(pick, "name"))
    c2.selectbox("Channel", CHANNELS, key=_k(pick, "channel"))
    st.text_input("Description (for colleagues; never sent)", key=_k(pick, "description"))
    st.text_input("Subject (email)", key=_k(pick, "subject"), help="Recipient fields go in as {{ recipient.<field> }}; the builder can insert them below.")
    st.text_area("Message body: fixed, approved copy; slots are where the model writes", key=_k(pick, "body"), height=260)
    names = list(st.session_state[_k(pick, "slots")])
    i1, i2 = st.columns([3, 2], vertical_alignment="bottom")
    slot_pick = i1.selectbox("Slot", names, key=_k(pick, "ins_slot"), disabled=not names)
    i2.button(
        "Insert slot", key=_k(pick, "ins_slot_btn"), disabled=not names, on_click=_append, args=(_k(pick, "body"), slot_tag(str(slot_pick))), width="stretch"
    )
    i3, i4 = st.columns([3, 2], vertical_alignment="bottom")
    field_pick = i3.selectbox("Recipient field", fields, key=_k(pick, "ins_field"), disabled=not fields)
    i4.button(
        "Insert field",
        key=_k(pick, "ins_field_btn"),
        disabled=not fields,
        on_click=_append,
        args=(_k(pick, "body"), field_tag(str(field_pick))),
        width="stretch",
    )
    st.caption("Inserted at the end of the body; cut and paste it where it belongs.")

    st.markdown(f"**Slots** ({len(names)} of at most {policy.max_slots} for {policy.name})")
    for name in names:
        form = _form_from_state(pick)  # the budget with every other field as it stands now
        b = budget(form, policy.max_personalized_share)
        current = int(st.session_state.get(_k(pick, "s", name, "max_words"), 20))
        most = b.most_for(current)
        with st.container(border=True, key=_k(pick, "box", name)):
            h1, h2 = st.columns([3, 2], vertical_alignment="center")
            h1.markdown(f"**{name}** · `{slot_tag(name)}`")
            h2.button("Remove slot", key=_k(pick, "rm", name), on_click=_remove_slot, args=(pick, name), icon=":material/delete:", width="stretch")
            st.text_area("Instruction to the model", key=_k(pick, "s", name, "instruction"), height=68)
            st.multiselect("Inputs the model may see", fields, key=_k(pick, "s", name, "inputs"), help="Only the brand's allowed, non-sensitive fields.")
            given = list(st.session_state.get(_k(pick, "s", name, "inputs"), []))
            must_key = _k(pick, "s", name, "must_name")
            st.session_state[must_key] = [f for f in st.session_state.get(must_key, []) if f in given]  # only inputs it still sees
            st.multiselect(
                "Inputs the text must name",
                given,
                key=must_key,
                help="A model-written text that leaves one of these out is dropped (the brand's `mention` rule); approved text is never held to it.",
            )
            top = max(current, most) if most is not None else 500
            st.number_input(
                "Word limit",
                min_value=1,
                max_value=max(1, top),
                step=1,
                key=_k(pick, "s", name, "max_words"),
                help="The most words the model may write here. Limits that would let slots fill more of the message than the brand allows are refused.",
            )
            _meter(budget(_form_from_state(pick), policy.max_personalized_share), policy, most, current)
            st.text_area("Examples (one per line)", key=_k(pick, "s", name, "examples"), height=68)
            st.text_input("Human-written fallback (used when no model text passes the checks, or without consent)", key=_k(pick, "s", name, "fallback"))
    a1, a2 = st.columns([3, 1], vertical_alignment="bottom")
    a1.text_input("New slot name", key=_k(pick, "new_slot"), placeholder="e.g. closing")
    a2.button("Add slot", key=_k(pick, "add_slot"), on_click=_add_slot, args=(pick,), icon=":material/add:", disabled=len(names) >= policy.max_slots)
    if err := st.session_state.get(_k(pick, "slot_error")):
        st.error(err)
    return write_form(_form_from_state(pick))


def _meter(b: Any, policy: BrandPolicy, most: int | None, current: int) -> None:
    if b.limit is None:
        st.caption(f"Slots at their limits: {b.slot_words} words against {b.fixed_words} of fixed copy; {policy.name} sets no share limit.")
        return
    st.progress(min(b.share / b.limit, 1.0), text=f"Personalized share at the word limits: {b.share:.0%} of {b.limit:.0%} allowed")
    if not b.ok:
        st.warning(
            f"At their word limits the slots would fill {b.share:.0%} of the message; {policy.name} allows {b.limit:.0%}. "
            f"Lower a limit (this one to {most} or less) or add fixed copy.",
            icon=":material/warning:",
        )
    elif most is not None and most <= current:
        st.caption("This limit is as high as the brand's budget allows.")


def render_page() -> None:
    user = common.require_user()
    st.title("Templates")
    rows = common.read(templates, user)
    if rows:
        st.dataframe(
            [
                {"Template": t.name, "Brand": b.name, "Latest version": tv.version, "Saved": common.fmt_ts(tv.created_at), "Fingerprint": tv.content_hash[:12]}
                for t, b, tv in rows
            ],
            hide_index=True,
            key="tpl_table",
        )
    brands = common.read(brands_by_slug, user)
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
        source = _editor(pick, initial, policy)
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
        # The brand's own audiences only: another brand's recipients would preview fields and
        # places this brand never writes to.
        brand_id = brands[slug].id
        auds = [a for a in common.read(audiences, user) if a.brand_id == brand_id]
        if not auds:
            st.info(f"Import an audience for {brands[slug].name} to preview with one of its recipients.")
            return
        a1, a2 = st.columns(2)
        aud_id = a1.selectbox("Audience", [a.id for a in auds], format_func=lambda i: next(a.name for a in auds if a.id == i), key="tpl_aud")
        recips = common.read(audience_sample, user, aud_id, 25)
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
