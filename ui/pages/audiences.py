"""Audiences: pick the brand, upload a CSV, see a preview (with the columns the brand does not
keep), a row-by-row error report, and consent counts."""

from __future__ import annotations

import streamlit as st

from review.audiences import import_audience, parse_csv
from review.brands import policy_for
from review.errors import AudienceImportError, ConfigError
from review.views import audiences, brands_by_slug
from ui import common


def render() -> None:
    user = common.require_user()
    st.title("Audiences")
    auds = common.read(audiences, user)
    brands = common.read(brands_by_slug, user)
    names = {b.id: b.name for b in brands.values()}
    if auds:
        st.dataframe(
            [
                {
                    "Audience": a.name,
                    "Brand": names.get(a.brand_id, "(none: import again)"),
                    "Rows": a.row_count,
                    "With consent": a.consent_count,
                    "Consent %": f"{a.consent_count / max(a.row_count, 1):.0%}",
                    "Fields": ", ".join(a.fields),
                    "Imported": common.fmt_ts(a.created_at),
                }
                for a in auds
            ],
            hide_index=True,
            key="aud_table",
        )
    else:
        st.info("No audience yet.")
    st.subheader("Import a CSV")
    if not brands:
        st.error("No brand is configured: add a folder under brand_guidelines/.")
        return
    slug = st.selectbox("Brand", list(brands), format_func=lambda x: brands[x].name, key="aud_brand")
    try:
        policy = policy_for(brands[slug])
    except ConfigError as e:
        st.error(str(e), icon=":material/error:")
        return
    st.caption(
        "Columns: `id`, `personalization_consent` (yes/no) and the fields the brand declares "
        f"({', '.join(policy.allowed_fields) or 'none'}); other columns are dropped, never stored. "
        "Every value must fit its field, or nothing is imported."
    )
    upload = st.file_uploader("CSV file", type=["csv"], key="aud_file")
    name = st.text_input("Audience name", value=(upload.name.rsplit(".", 1)[0] if upload else ""), key=f"aud_name_{upload.name if upload else ''}")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        parsed = parse_csv(data, policy, upload.name)
    except AudienceImportError as e:
        st.error(f"{upload.name}: {len(e.problems)} problem(s); nothing can be imported until they are fixed.", icon=":material/error:")
        st.dataframe([{"Line": line, "Problem": why} for line, why in e.problems], hide_index=True, key="aud_problems")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows", len(parsed.rows))
    c2.metric("With personalization consent", parsed.consent_count)
    c3.metric("Without consent (fallback copy)", len(parsed.rows) - parsed.consent_count)
    st.dataframe([{"id": rid, **values, "consent": consent} for rid, values, consent in parsed.rows[:20]], hide_index=True, key="aud_preview")
    st.caption(f"Preview of the first {min(20, len(parsed.rows))} rows. Fields: {', '.join(parsed.fields)}")
    if parsed.dropped:
        st.warning(
            "Dropped at import: " + "; ".join(f"'{c}' ({why})" for c, why in parsed.dropped.items()),
            icon=":material/visibility_off:",
        )
    if st.button("Import audience", key="aud_import", type="primary"):
        out = common.call(import_audience, user, name=name, brand_slug=slug, data=data, source=upload.name)
        if out.ok:
            common.flash(f"Imported '{out.value.name}': {out.value.row_count} rows, {out.value.consent_count} with consent.", "success")
            st.rerun()


if __name__ == "__main__":
    render()
