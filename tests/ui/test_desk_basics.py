"""Issue 13 items 4, 8 and 9 on the pages: plain words, readable times, search and filters that
survive navigation, next / previous, feedback while the model works, polling that stops."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest
from ui_helpers import texts

from review.generation import Progress
from review.models import Status

QUEUE, DRAFT = "ui/pages/queue.py", "ui/pages/draft.py"


def _rows(at):
    return next(df for df in at.dataframe if "Risk" in df.value.columns).value


# ------------------------------------------------------------------ plain language


def test_statuses_and_groups_read_as_plain_words(app, world):
    at = app("rita")
    rows = _rows(at)
    assert set(rows["Status"]) == {"In review"}
    assert "Audience group" in rows.columns and "Variant" not in rows.columns
    d = world.drafts(Status.IN_REVIEW)[0]
    at = app("rita", page=DRAFT, query={"draft": str(d.id)})
    shown = texts(at)
    assert ":blue-badge[In review]" in shown and "audience group **" in shown
    assert "variant" not in shown.lower().replace("v.variant", "")
    at = app("maria")
    statuses = set(next(df for df in at.dataframe if "Errors" in df.value.columns).value["Status"])
    assert statuses <= {"In review", "Generated, not submitted", "Changes requested", "Approved"}


def test_the_trail_names_the_model_for_generated_text(app, world):
    d = world.drafts(Status.IN_REVIEW)[0]
    at = app("maria", page=DRAFT, query={"draft": str(d.id)})
    revisions = next(df for df in at.dataframe if "Text fingerprint" in df.value.columns).value
    assert revisions["By"].iloc[0] == "generator (model; job started by maria)"
    assert "content_hash" not in revisions.columns


def test_times_have_no_microseconds_and_name_their_zone(app, world):
    from test_page_exports import _approve_everything

    _approve_everything(world)
    d = world.drafts(Status.APPROVED)[0]
    at = app("rita", page=DRAFT, query={"draft": str(d.id)})
    signed = next(df for df in at.dataframe if "Signed" in df.value.columns).value["Signed"].iloc[0]
    assert signed.endswith(" UTC") and "." not in signed and ":" in signed  # AppTest has no browser zone: UTC


# ------------------------------------------------------------------ queue: search, sticky filters


def test_queue_text_search(app, world):
    pending = world.drafts(Status.IN_REVIEW)
    at = app("rita")
    at.text_input(key="queue_text").input(f"#{pending[1].id}").run()
    assert list(_rows(at)["Draft"]) == [pending[1].id]
    at.text_input(key="queue_text").input("renewal DEMO").run()  # every word, any case, in a name
    assert len(_rows(at)) == len(pending)
    at.text_input(key="queue_text").input("no_such%thing").run()
    assert any("Nothing waiting" in i.value for i in at.info)


def test_queue_filters_survive_a_visit_to_a_draft(app, world):
    at = app("rita")
    at.multiselect(key="queue_status").set_value([Status.IN_REVIEW, Status.NEEDS_CHANGES])
    at.selectbox(key="queue_page_size").set_value(10)
    at.text_input(key="queue_text").input("renewal").run()
    first = int(_rows(at)["Draft"].iloc[0])
    at.selectbox(key="queue_open_id").set_value(first)
    at.button(key="queue_open").click().run()
    assert at.title[0].value == f"Draft #{first}"
    at.switch_page(QUEUE).run()
    assert not at.exception
    assert at.title[0].value == "Review queue"
    assert at.multiselect(key="queue_status").value == [Status.IN_REVIEW, Status.NEEDS_CHANGES]
    assert at.selectbox(key="queue_page_size").value == 10
    assert at.text_input(key="queue_text").value == "renewal"


# ------------------------------------------------------------------ draft page: next / previous


def test_next_and_previous_walk_the_list_the_draft_was_opened_from(app, world):
    at = app("rita")
    at.selectbox(key="queue_page_size").set_value(10).run()
    ids = [int(i) for i in _rows(at)["Draft"]]
    at.selectbox(key="queue_open_id").set_value(ids[0])
    at.button(key="queue_open").click().run()
    assert at.title[0].value == f"Draft #{ids[0]}"
    assert at.button(key="draft_prev").disabled and not at.button(key="draft_next").disabled
    assert at.button(key="draft_next").proto.shortcut.upper() == "J" and at.button(key="draft_prev").proto.shortcut.upper() == "K"
    at.button(key="draft_next").click().run()
    assert at.title[0].value == f"Draft #{ids[1]}"
    at.button(key="draft_next").click().run()
    assert at.title[0].value == f"Draft #{ids[2]}"
    at.button(key="draft_prev").click().run()
    assert at.title[0].value == f"Draft #{ids[1]}"
    assert any(f"Draft 2 of {len(ids)} in this list" in c.value for c in at.caption)


def test_a_draft_opened_by_link_walks_its_campaign(app, world):
    drafts = sorted(d.id for d in world.drafts())
    at = app("rita", page=DRAFT, query={"draft": str(drafts[-1])})
    assert at.button(key="draft_next").disabled
    at.button(key="draft_prev").click().run()
    assert at.title[0].value == f"Draft #{drafts[-2]}"


def test_draft_page_without_a_draft_is_no_dead_end(app, world):
    at = app("maria", page=DRAFT)
    assert at.title[0].value == "Draft"
    links = at.get("page_link")
    assert len(links) == 1 and links[0].proto.label == "Go to campaigns"


# ------------------------------------------------------------------ generation feedback


def test_progress_text_counts_groups_with_eta_and_elapsed_time():
    from ui.pages.campaigns import progress_text

    assert progress_text(Progress(1, "running", 0, 7, None, "", 40)) == (
        "Generation running: 0 of 7 audience groups drafted · estimating the time left after the first audience group · running for 40 s"
    )
    assert progress_text(Progress(1, "running", 3, 7, 130.0, "", 95)) == (
        "Generation running: 3 of 7 audience groups drafted · about 2 min 10 s left · running for 1 min 35 s"
    )
    assert progress_text(Progress(1, "done", 7, 7, None)) == "Generation finished: 7 of 7 audience groups drafted"


def test_regenerate_says_what_it_is_doing(app, world, monkeypatch):
    import streamlit

    from review.models import Variant

    said: list[str] = []
    real = streamlit.spinner

    def spinner(text="", **kw):  # type: ignore[no-untyped-def]
        said.append(text)
        return real(text, **kw)

    monkeypatch.setattr(streamlit, "spinner", spinner)
    with world.session() as s:
        d = next(d for d in world.drafts(Status.IN_REVIEW) if s.get(Variant, d.variant_id).personalized)
    at = app("maria", page=DRAFT, query={"draft": str(d.id)})
    at.button(key="regen_btn").click().run()
    assert not at.exception
    assert any("The model is writing a new" in t for t in said)


# ------------------------------------------------------------------ polling and deactivation


def _signed_in_probe() -> None:
    import streamlit as st

    from ui import common

    st.session_state["answer"] = common.still_signed_in()


def test_polling_stops_for_a_deactivated_user_and_is_not_activity(world):
    with world.session() as s:
        maria = world.user("maria")
    at = AppTest.from_function(_signed_in_probe, default_timeout=30)
    at.session_state["user_id"] = maria.id
    at.session_state["last_activity"] = before = time.time() - 60
    at.run()
    assert at.session_state["answer"] is True
    assert at.session_state["last_activity"] == before  # a poll is not activity
    with world.session() as s:
        u = s.get(type(maria), maria.id)
        u.active = False
        s.add(u)
        s.commit()
    at.run()
    assert at.session_state["answer"] is False
    assert "user_id" not in at.session_state  # logged out, with the reason
    assert "no longer active" in at.session_state["flash"][1]


def test_a_marketers_menu_starts_on_campaigns_and_includes_the_audit_trail():
    from ui.common import page_files_for

    marketer = page_files_for("marketer")
    assert marketer[0] == "ui/pages/campaigns.py" and marketer.index("ui/pages/draft.py") > 0
    assert "ui/pages/audit.py" in marketer
    assert page_files_for("reviewer")[0] == "ui/pages/queue.py"
