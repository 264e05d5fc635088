"""The draft page's review-step parts: the plan panel (each step of brand.yaml's plan, who
signed it on this revision, what is open) and the approve form's step picker.

Both only show what the services decided: the plan comes with the draft view
(review.step_views.step_plan), and the steps offered are the approve Action's `steps`
(review.routing.signable_steps); `workflow.approve` checks the chosen step again under the
draft's lock.
"""

from __future__ import annotations

import streamlit as st

from review.step_views import StepPlan
from review.workflow import Action
from ui.highlight import esc

STEP_KEY = "approve_step"


def _role_text(role: str) -> str:
    return "any reviewer" if role == "reviewer" else f"role *{esc(role)}*"


def plan_panel(plan: StepPlan | None) -> None:
    """The review plan with who signed each step on this revision and what the draft waits for."""
    if plan is None:
        return
    order = "one step at a time, in this order" if plan.order == "sequential" else "in any order"
    # Step names are lower-case names brand.yaml's loader validated; the arrows and '+' are ours.
    st.markdown(f"**Review steps** ({order}): {plan.summary}")
    lines = []
    for r in plan.rows:
        if r.satisfied:
            mark, state = ":green[:material/check_circle:]", "signed"
        elif r.open:
            mark, state = ":blue[:material/pending:]", "open now"
        else:
            mark, state = ":gray[:material/schedule:]", "waits for an earlier step"
        who = ", ".join(esc(s) for s in r.signers) or "no signature yet"
        line = f"{mark} **{esc(r.name)}** ({_role_text(r.role)}, {len(r.signers)}/{r.count}) · {state} · {who}"
        if not r.satisfied:
            line += " · may sign: " + (", ".join(esc(u) for u in r.may_sign) if r.may_sign else ":red[nobody eligible: an admin assigns review roles]")
        lines.append(f"- {line}")
    st.markdown("\n".join(lines), unsafe_allow_html=True)
    if plan.yours:
        st.caption(f"You may sign: {', '.join(plan.yours)}. Your review roles: {', '.join(plan.your_roles) or 'none'}.")
    elif plan.your_roles:
        st.caption(f"Your review roles: {', '.join(plan.your_roles)}.")


def step_picker(action: Action) -> str | None:
    """Inside the approve form: which step the signature is for. A choice when the reviewer may
    sign several steps now; otherwise the one step, said plainly."""
    if len(action.steps) > 1:
        choice = st.radio("Review step you sign", action.steps, index=None, key=STEP_KEY, horizontal=True)
        return str(choice) if choice is not None else None  # none chosen: approve says to choose
    if action.steps:
        st.markdown(f"You sign the **{esc(action.steps[0])}** step.", unsafe_allow_html=True)
        return action.steps[0]
    return None
