"""Draft detail: the rendered message with slots and findings marked, its history, and the
actions this user may take: exactly those `workflow.get_actions` returns, each taken through
`workflow.perform`. The page decides how an action looks, never whether it is allowed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from review import workflow
from review.auth import needs_signing_password
from review.generation import regenerate_slot
from review.models import User
from review.views import DraftView, draft_view, live_check
from review.workflow import Action
from ui import annotation_panel, common, diff_panel, labels
from ui.draft_panels import findings_list, held_back, history, md, provenance_banner, slots_table
from ui.highlight import esc, message_html
from ui.review_steps_panel import STEP_KEY, plan_panel, step_picker
from ui.signing_password import signing_password_form

STATUS_COLOR = {
    "checked": "gray",
    "in_review": "blue",
    "needs_changes": "orange",
    "approved": "green",
    "published": "violet",
    "rejected": "red",
    "withdrawn": "gray",
}
STATUS_BADGE = {code: (color, labels.status(code)) for code, color in STATUS_COLOR.items()}
# The reviewer's loop from the keyboard (ignored while typing in a box): J / K as in mail readers.
NEXT_KEY, PREV_KEY = "J", "K"
# The author's actions sit in the page's flow (the main one first); every other action is a
# decision with a form of its own, one tab each.
AUTHOR_ACTIONS = ("submit", "edit")
# What each action's comment box is called in `workflow.perform`.
COMMENT_INPUT = {"submit": "reply"}


def _draft_id() -> int | None:
    raw = st.query_params.get("draft") or st.session_state.get("draft_id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _message(v: DraftView) -> None:
    st.markdown(
        message_html(v.rendered.subject, v.rendered.fixed_segments, v.rendered.slot_sequence, v.draft.slots, v.draft.findings),
        unsafe_allow_html=True,
    )
    st.caption("Blue: slot text written by the model (or a person). Underlined: a finding; hover for its message, numbers refer to the list.")


# The sign form keeps the reviewer's choices (meaning, acknowledged warnings) across a refused
# attempt, so a mistyped password costs the password only. The choices belong to one draft text:
# on another draft or a changed text the form starts again, so nothing is acknowledged unseen.
SIGN_FOR_KEY, SIGN_ERROR_KEY, SIGN_PASSWORD_KEY = "sign_form_for", "sign_form_error", "approve_password"


def _sign_form_state(d: Any) -> str | None:
    """Prepare the sign form's widget state before it is drawn; returns the last attempt's error."""
    owner = (d.id, d.content_hash)
    if st.session_state.get(SIGN_FOR_KEY) != owner:
        for key in [k for k in st.session_state if isinstance(k, str) and (k in ("approve_meaning", STEP_KEY) or k.startswith("ack_"))]:
            del st.session_state[key]
        st.session_state.pop(SIGN_ERROR_KEY, None)
        st.session_state[SIGN_FOR_KEY] = owner
    error = st.session_state.pop(SIGN_ERROR_KEY, None)
    if error is not None:
        st.session_state[SIGN_PASSWORD_KEY] = ""  # a refused password is never left in the box
    return error


def _approve_form(user: User, v: DraftView, action: Action) -> None:
    d = v.draft
    if needs_signing_password(user):  # a company (SSO) account before its first signing password
        signing_password_form(user, key="draft_signing_pw")
        return
    st.markdown(
        f"**Approve (electronic signature)** — signing as **{esc(user.full_name)}**; "
        f"needs {v.policy.approvals_required} distinct approval(s), {v.valid_approval_count} so far.",
        unsafe_allow_html=True,
    )
    error = _sign_form_state(d)
    if error:
        st.error(error, icon=":material/error:")
    with st.form(f"approve_form_{d.id}", clear_on_submit=False):
        meaning = st.selectbox("Meaning of this signature", action.meanings, key="approve_meaning")
        step = step_picker(action)
        acked: list[str] = []
        if v.warnings:
            st.markdown("Acknowledge each warning:")
            for i, (wid, f) in enumerate(v.warnings):
                label = f":material/warning: {f.get('message', '')}" + (f" — “{f.get('match')}”" if f.get("match") else "")
                if st.checkbox(label, key=f"ack_{i}"):
                    acked.append(wid)
        which = "signing password" if user.signing_password_hash else "password"  # company accounts: review.sso
        password = st.text_input(f"Re-enter your {which} to sign", type="password", key=SIGN_PASSWORD_KEY)
        go = st.form_submit_button("Sign and approve", key=f"{action.name}_btn", type=action.style, icon=":material/verified:")  # type: ignore[arg-type]
    # Sign what the reviewer saw: the hash shown on the previous run, not the one just reloaded.
    seen_key = f"seen_hash_{d.id}"
    seen = st.session_state.get(seen_key, d.content_hash)
    st.session_state[seen_key] = d.content_hash
    if go:
        inputs = {"password": password, "meaning": meaning, "acknowledged": acked, "expected_content_hash": seen, "step": step}
        out = common.call(workflow.perform, user, d.id, action.name, show_error=False, **inputs)
        if out.ok:
            st.session_state.pop(SIGN_FOR_KEY, None)  # the next form (a new revision) starts empty
            common.flash(f"Draft #{d.id} signed by {user.full_name} ({meaning}).", "success")
        else:
            # Run again to empty the password box; the meaning and the ticks stay as they were.
            st.session_state[SIGN_ERROR_KEY] = str(out.error)
        st.rerun()


def _comment_action(user: User, v: DraftView, action: Action) -> None:
    """A decision that takes a comment saying why (request changes, reject, withdraw)."""
    with st.form(f"{action.name}_form_{v.draft.id}", clear_on_submit=False):
        need = "required" if action.needs_comment else "optional"
        comment = st.text_area(f"{action.label}: comment ({need}, the author sees it)", key=f"{action.name}_comment", height=90)
        go = st.form_submit_button(action.label, key=f"{action.name}_btn", type=action.style)  # type: ignore[arg-type]
    if go:
        out = common.call(workflow.perform, user, v.draft.id, action.name, comment=comment)
        if out.ok:
            common.flash(f"Draft #{v.draft.id}: {action.label.lower()} recorded.", "success")
            st.rerun()


def _edit_key(draft_id: int, revision: int, name: str) -> str:
    return f"edit_{draft_id}_r{revision}_{name}"


def _forget_older_edits(v: DraftView) -> None:
    """Drop the edit boxes of revisions no longer shown (their text would otherwise linger in the
    browser and be sent back with the next save). Text typed into them and never saved is not
    dropped silently: it is shown once, so the author can compare and type it again."""
    d = v.draft
    current = f"edit_{d.id}_r{d.revision}_"
    texts = {r["revision"]: r.get("slots", {}) for r in v.revisions}
    unsaved = []
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"edit_{d.id}_r") and not k.startswith(current)]:
        rev, _, name = key[len(f"edit_{d.id}_r") :].partition("_")
        typed = st.session_state.pop(key)
        was = texts.get(int(rev), {}).get(name) if rev.isdigit() else None
        if isinstance(typed, str) and was is not None and " ".join(typed.split()) != was:
            unsaved.append((name, typed))
    if unsaved:
        shown = "  \n".join(f"**{esc(name)}**: {esc(text)}" for name, text in unsaved)
        st.warning(
            f"Draft #{d.id} changed to revision {d.revision} while you were editing; your unsaved text is below. "
            f"Compare it with the new text and edit again.  \n{shown}",
            icon=":material/history:",
        )


def _edit(user: User, v: DraftView) -> None:
    d = v.draft
    # Every box is keyed by the revision it was filled from: after a regenerate, a save or anyone
    # else's edit the draft has a new revision, so the boxes start again from its current text.
    _forget_older_edits(v)
    st.markdown("**Edit slot text** — checked against the guidelines as you type; saving creates a new revision and voids any signature.")
    edited: dict[str, str] = {}
    for name, spec in v.spec.slots.items():
        edited[name] = st.text_area(
            f"{name} (max {spec.max_words} words)",
            value=d.slots.get(name, ""),
            key=_edit_key(d.id, d.revision, name),
            height=80,  # type: ignore[arg-type]
        )
    changed = {k: val for k, val in edited.items() if " ".join(val.split()) != d.slots.get(k)}
    if changed:
        live = common.call(live_check, user, d.id, edited)
        if live.ok:
            errs = sum(1 for f in live.value if f.get("level") == "error")
            warns = sum(1 for f in live.value if f.get("level") == "warning")
            st.markdown(f"**Live check of your edit:** {errs} error(s), {warns} warning(s)")
            findings_list(live.value)
    note = st.text_input("Note for the history (optional)", key=_edit_key(d.id, d.revision, "#note"))  # type: ignore[arg-type]
    if st.button("Save edit", key="edit_save", type="primary", disabled=not changed):
        # The revision these boxes were filled from: a save over a newer one is refused, never
        # silently replacing someone else's text.
        out = common.call(workflow.perform, user, d.id, "edit", slots=changed, note=note, expected_revision=d.revision)
        if out.ok:
            common.flash(f"Saved revision {out.value.revision} of draft #{d.id} ({out.value.status.replace('_', ' ')}).", "success")
            st.rerun()
    model_slots = [name for name, spec in v.spec.slots.items() if spec.mode != "choose"]  # a choose slot is picked, never written
    if v.variant.personalized and model_slots:
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        slot = c1.selectbox("Regenerate one slot with the model", model_slots, key="regen_slot")
        if c2.button("Regenerate", key="regen_btn", icon=":material/autorenew:"):
            attempt = st.session_state.get(f"regen_attempt_{d.id}", 0) + 1
            st.session_state[f"regen_attempt_{d.id}"] = attempt
            # One model run (best of several candidates): tens of seconds on a CPU. Say so, rather
            # than leave the page greyed out with no word of what it is doing.
            with st.spinner(f"The model is writing a new '{slot}' text and the brand's rules are checking it; this can take up to a minute…", show_time=True):
                out = common.call(regenerate_slot, user, d.id, slot, common.get_filler(), attempt=attempt)
            if out.ok:
                common.flash(f"Slot '{slot}' regenerated (revision {out.value.revision}).", "success")
                st.rerun()


def _approval_expiry(v: DraftView) -> None:
    """How long the approval holds (brand.yaml approval_valid_days): a lapsed one blocks export."""
    until = v.approval_expires_at
    if until is None:
        return
    days = v.policy.approval_valid_days
    if until <= datetime.now(UTC):
        lapsed = f"The approval expired on {until:%Y-%m-%d} ({esc(v.brand.name)} approvals last {days} days)"
        st.error(f"{lapsed}: it cannot be exported until re-approved.", icon=":material/event_busy:")
    else:
        st.caption(f"Approval valid until {until:%Y-%m-%d %H:%M} UTC ({esc(v.brand.name)} approvals last {days} days).")


def _changes_requested(v: DraftView) -> dict[str, Any] | None:
    """The reviewer's request the draft is waiting on (only while it needs changes)."""
    if v.draft.status != "needs_changes":
        return None
    return next((c for c in reversed(v.comments) if c["kind"] == "request_changes"), None)


def _changes_banner(v: DraftView, asked: dict[str, Any]) -> None:
    unchanged = asked["revision"] == v.draft.revision
    state = "Not changed since: edit it as asked before resubmitting." if unchanged else f"Changed since (now revision {v.draft.revision})."
    st.warning(
        f"**{md(asked['by'])} asked for changes** on revision {asked['revision']} · {common.fmt_ts(asked['at'])}  \n{md(asked['text'])}  \n*{state}*",
        icon=":material/rate_review:",
    )


def _submit(user: User, v: DraftView, action: Action, asked: dict[str, Any] | None) -> None:
    """Submit, or resubmit after changes were asked for: label, style and whether the reply to
    the reviewer is required all come from the action."""
    d = v.draft
    if action.needs_comment and asked is not None:
        st.caption(f"Unchanged since {esc(asked['by'])} asked for changes: resubmit as it is only if it should stand.", unsafe_allow_html=True)
    inputs: dict[str, str] = {}
    if action.takes_comment:
        inputs[COMMENT_INPUT.get(action.name, "comment")] = st.text_area(
            "Reply to the reviewer" + (" (needed to resubmit unchanged)" if action.needs_comment else " (optional)"),
            key=f"{action.name}_reply_{d.id}_{d.revision}",
            placeholder="Why the text stands as it is, or what you changed.",
        )
    if st.button(action.label, key=f"{action.name}_btn", type=action.style, icon=":material/send:"):  # type: ignore[arg-type]
        out = common.call(workflow.perform, user, d.id, action.name, **inputs)
        if out.ok:
            common.flash(f"Draft #{d.id} submitted for review.", "success")
            st.rerun()


def _decide(user: User, v: DraftView, asked: dict[str, Any] | None, status_label: str) -> None:
    """Exactly the actions get_actions offered this user, each as its form."""
    if not v.actions:
        st.info(f"Nothing for you to do on this draft: it is {status_label}" + (", and you wrote or edited it." if user.id == v.draft.author_id else "."))
        return
    decisions = [a for a in v.actions if a.name not in AUTHOR_ACTIONS]
    if decisions:
        for tab, action in zip(st.tabs([a.label for a in decisions]), decisions, strict=True):
            with tab:
                (_approve_form if action.needs_password else _comment_action)(user, v, action)
    # The main action first: submit before the editor; after it when resubmitting sent-back text.
    for action in sorted((a for a in v.actions if a.name in AUTHOR_ACTIONS), key=lambda a: a.style != "primary"):
        if action.name == "edit":
            _edit(user, v)
        else:
            _submit(user, v, action, asked)


def _nav_list(v: DraftView) -> list[int]:
    """The list this draft was opened from (a queue page, a campaign), else its campaign's drafts."""
    among = st.session_state.get(common.NAV_KEY) or []
    return list(among) if v.draft.id in among else list(v.siblings)


def _next_previous(v: DraftView) -> None:
    ids = _nav_list(v)
    at = ids.index(v.draft.id) if v.draft.id in ids else -1
    prev_id = ids[at - 1] if at > 0 else None
    next_id = ids[at + 1] if 0 <= at < len(ids) - 1 else None
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="center")
    if c1.button("Previous draft", key="draft_prev", icon=":material/arrow_back:", disabled=prev_id is None, shortcut=PREV_KEY, width="stretch"):
        common.open_draft(prev_id)  # type: ignore[arg-type]
    if c2.button("Next draft", key="draft_next", icon=":material/arrow_forward:", disabled=next_id is None, shortcut=NEXT_KEY, width="stretch"):
        common.open_draft(next_id)  # type: ignore[arg-type]
    if at >= 0:
        c3.caption(f"Draft {at + 1} of {len(ids)} in this list · keys {NEXT_KEY} (next) and {PREV_KEY} (previous) when not typing")


def render() -> None:
    user = common.require_user()
    draft_id = _draft_id()
    if draft_id is None:
        st.title("Draft")
        st.info("No draft chosen yet: open one from the review queue or from a campaign's drafts.", icon=":material/article:")
        home = ("ui/pages/campaigns.py", "Go to campaigns") if user.role == "marketer" else ("ui/pages/queue.py", "Go to the review queue")
        st.page_link(home[0], label=home[1], icon=":material/arrow_forward:")
        return
    out = common.call(draft_view, user, draft_id)
    if not out.ok:
        return
    v: DraftView = out.value
    d = v.draft
    color, label = STATUS_BADGE.get(d.status, ("gray", d.status))
    st.title(f"Draft #{d.id}")
    _next_previous(v)
    st.markdown(
        f":{color}-badge[{label}] &nbsp; **{esc(v.campaign.name)}** · {esc(v.brand.name)} · audience group **{esc(v.variant.label)}** · "
        f"{v.variant.recipient_count} recipient(s) · revision {d.revision} · template v{v.template_version} · by {esc(v.author)}",
        unsafe_allow_html=True,
    )
    _approval_expiry(v)
    asked = _changes_requested(v)
    if asked is not None:
        _changes_banner(v, asked)
    provenance_banner(v)
    held_back(v.held_back)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Errors", d.error_count)
    m2.metric("Warnings", d.warning_count)
    m3.metric(
        "Human-written fallbacks",
        d.fallback_count,
        help="Slots where no model text passed the checks (or no approved alternative fits), so approved or human-written text is used",
    )
    m4.metric("Approvals", f"{v.valid_approval_count} / {v.policy.approvals_required}")

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Message")
        st.caption(
            f"Rendered for sample recipient {esc(v.recipient.external_id)}, one of the audience group's {v.variant.recipient_count} "
            "(their fields are under *Slots and inputs* below).",
            unsafe_allow_html=True,
        )
        _message(v)
        st.subheader("Findings")
        findings_list(d.findings)
    with right:
        st.subheader("Decide")
        plan_panel(v.plan)
        _decide(user, v, asked, label)
    annotation_panel.render(user, v)
    diff_panel.render(user, v)

    tab_slots, tab_fixed, tab_history = st.tabs(["Slots and inputs", "Template fixed copy", "History"])
    with tab_slots:
        slots_table(v)
        st.caption("The model saw only the inputs listed; sensitive fields never reach it or the message.")
    with tab_fixed:
        st.caption("Everything outside {{ slots.* }} is brand-owned copy the model never touches.")
        st.code(v.spec.body, language="django", line_numbers=True)
    with tab_history:
        history(v)


if __name__ == "__main__":
    render()
