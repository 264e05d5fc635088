"""Span annotations: made on words in one slot, answered and resolved by the author side, reopened
by reviewers, blocking resubmission while open, following their words through edits, audited,
created by m011, and raced by two processes."""

from __future__ import annotations

import multiprocessing
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from review import audit, db
from review.annotation_views import draft_annotations
from review.annotations import allowed, annotate, find_words, relocate, reopen, reply, resolve
from review.errors import Conflict, InvalidInput, InvalidTransition, NotReady, PermissionDenied
from review.generation import generate_campaign
from review.models import Annotation, AnnotationReply, AuditEvent, Draft, Status, User, Variant
from review.signing import authors
from review.textsafety import UnsafeText
from review.workflow import edit_draft, request_changes, submit_for_review, submit_ready

sys.path.insert(0, str(Path(__file__).parent))  # the spawned racers import their module by name
import annotation_race_worker  # noqa: E402
import race_worker  # noqa: E402

PG_URL = os.environ.get("COUNTERSIGN_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
GREETING = "Hello to the busiest city in the north, and the busiest city we know."
CLOSING = "Stay well this winter, from all of us."


@pytest.fixture
def draft(world, fake_filler) -> Draft:  # type: ignore[no-untyped-def]
    """A personalized draft with known slot text, in review (written by maria, revision 2)."""
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    s = world.session
    s.expire_all()
    drafts = s.exec(select(Draft).where(Draft.campaign_id == world.campaign_id).order_by(col(Draft.id))).all()
    d = next(d for d in drafts if s.get(Variant, d.variant_id).personalized)
    edit_draft(s, world.marketer, d.id, slots={"greeting": GREETING, "closing": CLOSING})  # type: ignore[arg-type]
    s.commit()
    assert d.error_count == 0, d.findings
    submit_for_review(s, world.marketer, d.id)  # type: ignore[arg-type]
    s.commit()
    return d


def events(w, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(w.session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.seq))).all())


def note(w, d: Draft, words: str = "north", slot: str = "greeting", who=None, **kw) -> Annotation:  # type: ignore[no-untyped-def]
    ann = annotate(w.session, who or w.reviewer, d.id, slot=slot, words=words, comment=kw.pop("comment", "Please check this claim."), **kw)
    w.session.commit()
    return ann


# ------------------------------------------------------------------ making one


def test_annotating_words_records_the_span_the_quote_the_revision_and_an_audit_event(world, draft) -> None:  # type: ignore[no-untyped-def]
    ann = note(world, draft, "  the   north ", comment="Which north? Be specific.")  # pasted with stray spaces
    assert (ann.slot, ann.quote, ann.state, ann.outdated) == ("greeting", "the north", "open", False)
    assert GREETING[ann.start_offset : ann.end_offset] == "the north" and ann.start_offset == GREETING.index("the north")
    assert ann.revision == ann.anchored_revision == draft.revision
    (ev,) = events(world, "annotation_created")
    assert (ev.actor, ev.entity, ev.entity_id) == ("rita", "draft", str(draft.id))
    assert ev.after == {
        "annotation_id": ann.id,
        "slot": "greeting",
        "start": ann.start_offset,
        "end": ann.end_offset,
        "quote": "the north",
        "comment": "Which north? Be specific.",
        "revision": draft.revision,
    }
    assert audit.verify_chain(world.session).ok


def test_words_not_in_the_slot_are_refused_with_a_clear_message(world, draft) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=r"the words 'quietest town' do not occur in slot 'greeting'"):
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="quietest town", comment="Why this?")
    with pytest.raises(InvalidInput, match=r"'Busiest City'.*has 'busiest city', which differs in upper and lower case"):
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="Busiest City", comment="Why this?")
    with pytest.raises(InvalidInput, match=r"'Stay well' do not occur in slot 'greeting'"):  # right words, wrong slot
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="Stay well", comment="Why this?")
    with pytest.raises(InvalidInput, match=r"unknown slot 'footer' \(draft \d+ has greeting, closing\)"):
        annotate(world.session, world.reviewer, draft.id, slot="footer", words="north", comment="Why this?")
    with pytest.raises(InvalidInput, match="type or paste the words"):
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="   ", comment="Why this?")
    with pytest.raises(InvalidInput, match="needs a comment"):
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="north", comment=" ok ")
    with pytest.raises(UnsafeText, match="an annotation's text: contains U\\+202E RIGHT-TO-LEFT OVERRIDE at character 5"):
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="north", comment="Look\u202e here")
    world.session.rollback()
    assert world.session.exec(select(Annotation)).all() == []


def test_words_occurring_several_times_need_the_reviewer_to_pick_one(world, draft) -> None:  # type: ignore[no-untyped-def]
    found = find_words(world.session, world.reviewer, draft.id, slot="greeting", words="busiest city")
    first, second = GREETING.index("busiest city"), GREETING.rindex("busiest city")
    assert [(o.number, o.start, o.end) for o in found] == [(1, first, first + 12), (2, second, second + 12)]
    assert found[1].before.endswith("and the ") and found[1].after == " we know."
    with pytest.raises(InvalidInput, match=r"'busiest city' occurs 2 times in slot 'greeting' .*choose which one"):
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="busiest city", comment="Unprovable superlative.")
    with pytest.raises(InvalidInput, match="there is no occurrence 3"):
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="busiest city", comment="Unprovable superlative.", occurrence=3)
    ann = note(world, draft, "busiest city", occurrence=2)
    assert (ann.start_offset, ann.end_offset) == (second, second + 12)


def test_only_reviewers_annotate_and_only_while_the_draft_is_in_review(world, draft) -> None:  # type: ignore[no-untyped-def]
    for who in (world.marketer, world.admin):
        with pytest.raises(PermissionDenied, match="needs the reviewer role"):
            annotate(world.session, who, draft.id, slot="greeting", words="north", comment="Why this?")
    with pytest.raises(Conflict, match=r"you read revision 1\); read the new text first"):
        annotate(world.session, world.reviewer, draft.id, slot="greeting", words="north", comment="Why this?", expected_revision=1)
    request_changes(world.session, world.reviewer, draft.id, comment="Tone it down.")  # type: ignore[arg-type]
    world.session.commit()
    with pytest.raises(InvalidTransition, match=r"sent back for changes by rita .*annotations are made while a draft is in review"):
        annotate(world.session, world.reviewer2, draft.id, slot="greeting", words="north", comment="Why this?")


# ------------------------------------------------------------------ the thread


def test_reply_resolve_reopen_follow_the_states_and_the_permissions(world, draft) -> None:  # type: ignore[no-untyped-def]
    s, maria, rita, rob = world.session, world.marketer, world.reviewer, world.reviewer2
    ann = note(world, draft)
    reply(s, rob, ann.id, text="Agreed, and say which region.")  # a reviewer's reply is part of the thread only
    assert ann.state == "open"
    reply(s, maria, ann.id, text="It is the north-east campaign; kept on purpose.")
    s.commit()
    assert ann.state == "answered"
    with pytest.raises(PermissionDenied, match="rob did not raise annotation"):
        resolve(s, rob, ann.id)
    s.rollback()
    with pytest.raises(PermissionDenied, match="only reviewers reopen annotations"):
        reopen(s, maria, ann.id, comment="I changed my mind.")
    s.rollback()
    resolve(s, rita, ann.id, note="Fine by me.")  # the reviewer who raised it
    s.commit()
    assert (ann.state, ann.resolved_by) == ("resolved", rita.id)
    with pytest.raises(Conflict, match=r"\('north' in greeting\) was resolved by rita a moment ago; a reviewer can reopen it"):
        reply(s, maria, ann.id, text="Thanks!")
    with pytest.raises(Conflict, match="was resolved by rita a moment ago; it is already resolved"):
        resolve(s, maria, ann.id)
    with pytest.raises(InvalidInput, match="Reopening an annotation needs a comment"):
        reopen(s, rob, ann.id, comment="")
    s.rollback()
    reopen(s, rob, ann.id, comment="The legal team still objects.")  # any reviewer may reopen
    s.commit()
    assert (ann.state, ann.resolved_by, ann.resolved_at) == ("open", None, None)
    with pytest.raises(Conflict, match="was reopened by rob a moment ago; it is already open"):
        reopen(s, rita, ann.id, comment="Again.")
    resolve(s, maria, ann.id)  # the author side may resolve an open one without replying
    s.commit()
    thread = s.exec(select(AnnotationReply).where(AnnotationReply.annotation_id == ann.id).order_by(col(AnnotationReply.id))).all()
    assert [(r.kind, r.state_after) for r in thread] == [
        ("reply", "open"),
        ("reply", "answered"),
        ("resolve", "resolved"),
        ("reopen", "open"),
        ("resolve", "resolved"),
    ]
    assert [(e.action, e.actor, e.before["state"], e.after["state"]) for e in events(world, "annotation_resolved")] == [
        ("annotation_resolved", "rita", "answered", "resolved"),
        ("annotation_resolved", "maria", "open", "resolved"),
    ]
    assert [(e.actor, e.after["text"]) for e in events(world, "annotation_reopened")] == [("rob", "The legal team still objects.")]
    assert len(events(world, "annotation_replied")) == 2 and audit.verify_chain(s).ok


def test_a_stale_view_is_refused_naming_what_happened(world, draft) -> None:  # type: ignore[no-untyped-def]
    ann = note(world, draft)
    reply(world.session, world.marketer, ann.id, text="Changed nothing, it is accurate.")
    world.session.commit()
    resolve(world.session, world.reviewer, ann.id, expected_state="answered")
    world.session.commit()
    with pytest.raises(Conflict, match=r"was resolved by rita a moment ago and is resolved now \(you saw it answered\); reload"):
        reopen(world.session, world.reviewer2, ann.id, comment="Not accurate.", expected_state="answered")


def test_annotations_close_with_the_draft(world, draft) -> None:  # type: ignore[no-untyped-def]
    from review.workflow import reject

    ann = note(world, draft)
    reject(world.session, world.reviewer2, draft.id, comment="Not for this audience.")  # type: ignore[arg-type]
    world.session.commit()
    with pytest.raises(InvalidTransition, match="rejected by rob .*its annotations are closed"):
        reply(world.session, world.marketer, ann.id, text="But why?")
    view = draft_annotations(world.session, world.marketer, draft.id)  # type: ignore[arg-type]
    assert view.items[0].actions == () and not view.can_annotate


def test_what_the_panel_offers_is_what_the_services_allow(world, draft) -> None:  # type: ignore[no-untyped-def]
    """For each user and each state, `allowed` lists exactly the thread actions that succeed."""
    people = [world.admin, world.marketer, world.reviewer, world.reviewer2]
    ann = note(world, draft)
    setups = {"open": [], "answered": [("reply", world.marketer)], "resolved": [("resolve", world.marketer)]}
    calls = {
        "reply": lambda s, u: reply(s, u, ann.id, text="A reply."),
        "resolve": lambda s, u: resolve(s, u, ann.id),
        "reopen": lambda s, u: reopen(s, u, ann.id, comment="Not yet settled."),
    }
    for state, steps in setups.items():
        for user in people:
            for name, fn in calls.items():
                with Session(world.engine, expire_on_commit=False) as s:
                    for step, who in steps:
                        calls[step](s, who)
                    row = s.get(Annotation, ann.id)
                    d = s.get(Draft, draft.id)
                    assert row is not None and d is not None and row.state == state
                    offered = name in allowed(row, d, user, authors(s, d))
                    try:
                        fn(s, user)
                        worked = True
                    except (PermissionDenied, Conflict):
                        worked = False
                    s.rollback()
                assert offered == worked, f"{user.username} {name} on a {state} annotation: offered={offered}, allowed={worked}"


# ------------------------------------------------------------------ resubmission


def test_resubmission_waits_for_every_annotation_answered_or_resolved(world, draft) -> None:  # type: ignore[no-untyped-def]
    s = world.session
    first = note(world, draft, "busiest city", occurrence=1)
    second = note(world, draft, "Stay well", slot="closing", who=world.reviewer2)
    request_changes(s, world.reviewer, draft.id, comment="See my annotations.")  # type: ignore[arg-type]
    edit_draft(s, world.marketer, draft.id, slots={"closing": "Stay well this spring, from all of us."})  # type: ignore[arg-type]
    s.commit()
    with pytest.raises(NotReady) as refused:
        submit_for_review(s, world.marketer, draft.id)  # type: ignore[arg-type]
    assert str(refused.value) == (
        f"draft {draft.id} has 2 open annotations: 'busiest city' in greeting, 'Stay well' in closing; reply to or resolve each before submitting it for review"
    )
    report = submit_ready(s, world.marketer, world.campaign_id)
    assert (draft.id, str(refused.value)) in report.skipped
    reply(s, world.marketer, first.id, text="Removed the superlative elsewhere; this one is sourced.")
    with pytest.raises(NotReady, match=r"has 1 open annotation: 'Stay well' in closing;"):
        submit_for_review(s, world.marketer, draft.id)  # type: ignore[arg-type]
    resolve(s, world.marketer, second.id, note="Changed the season.")
    submit_for_review(s, world.marketer, draft.id)  # type: ignore[arg-type]
    s.commit()
    assert draft.status == Status.IN_REVIEW
    reopen(s, world.reviewer, first.id, comment="The source is not good enough.")  # reopened: blocks again next time
    request_changes(s, world.reviewer, draft.id, comment="One more round.")  # type: ignore[arg-type]
    s.commit()
    with pytest.raises(NotReady, match="has 1 open annotation: 'busiest city' in greeting"):
        submit_for_review(s, world.marketer, draft.id, reply="It stands as it is.")  # type: ignore[arg-type]


# ------------------------------------------------------------------ following the words through edits


def test_an_edit_that_keeps_the_words_moves_the_annotation_to_them(world, draft) -> None:  # type: ignore[no-untyped-def]
    s = world.session
    ann = note(world, draft, "busiest city", occurrence=2)
    plain = note(world, draft, "Stay well", slot="closing")
    new = "Good news: hello to the busiest city in the north, and the busiest city we know."
    edit_draft(s, world.marketer, draft.id, slots={"greeting": new})  # type: ignore[arg-type]
    s.commit()
    s.refresh(ann)
    at = new.rindex("busiest city")
    assert (ann.start_offset, ann.end_offset, ann.outdated, ann.anchored_revision) == (at, at + 12, False, draft.revision)
    assert new[ann.start_offset : ann.end_offset] == ann.quote  # the nearest of the two occurrences: still the second
    s.refresh(plain)
    assert (plain.start_offset, plain.anchored_revision) == (0, draft.revision)  # its slot did not change
    (moved,) = events(world, "annotation_moved")
    assert moved.actor == "maria" and moved.before["start"] == GREETING.rindex("busiest city") and moved.after["start"] == ann.start_offset


def test_an_edit_that_removes_the_words_marks_the_annotation_outdated_until_they_return(world, draft) -> None:  # type: ignore[no-untyped-def]
    s = world.session
    ann = note(world, draft, "busiest city", occurrence=1)
    old = (ann.start_offset, ann.end_offset)
    request_changes(s, world.reviewer, draft.id, comment="Drop the superlative.")  # type: ignore[arg-type]
    edit_draft(s, world.marketer, draft.id, slots={"greeting": "Hello to everyone in the north."})  # type: ignore[arg-type]
    s.commit()
    s.refresh(ann)
    assert ann.outdated and (ann.start_offset, ann.end_offset) == old and ann.quote == "busiest city"
    (ev,) = events(world, "annotation_outdated")
    assert ev.after["outdated"] is True and ev.after["annotation_id"] == ann.id
    with pytest.raises(NotReady, match="'busiest city' in greeting \\(outdated: the words were edited away\\)"):
        submit_for_review(s, world.marketer, draft.id)  # type: ignore[arg-type]
    view = draft_annotations(s, world.marketer, draft.id)  # type: ignore[arg-type]
    assert view.items[0].outdated and view.items[0].quote == "busiest city"
    edit_draft(s, world.marketer, draft.id, slots={"greeting": "Hello, busiest city of them all."})  # type: ignore[arg-type]
    s.commit()
    s.refresh(ann)
    assert not ann.outdated and (ann.start_offset, ann.end_offset) == (7, 19)
    assert [e.after["outdated"] for e in events(world, "annotation_moved")] == [False]


def test_the_panel_anchors_annotations_a_text_change_did_not_reach(world, draft) -> None:  # type: ignore[no-untyped-def]
    """Text changed without the edit hook (an older version, a repair): read-time anchoring."""
    ann = note(world, draft, "north")
    was = draft.revision
    new = "North or south, hello from the north."
    with Session(world.engine) as s:
        d = s.get(Draft, draft.id)
        assert d is not None
        d.slots = {**d.slots, "greeting": new}
        d.revision += 1
        s.add(d)
        s.commit()
    world.session.expire_all()
    item = draft_annotations(world.session, world.reviewer, draft.id).items[0]  # type: ignore[arg-type]
    assert (item.start, item.end, item.outdated) == (new.rindex("north"), len(new) - 1, False)
    with Session(world.engine) as s:
        assert s.get(Annotation, ann.id).anchored_revision == was  # nothing written by a read


def test_relocate_picks_the_nearest_occurrence() -> None:
    assert relocate("ab ab ab", "ab", 4) == 3
    assert relocate("ab ab ab", "ab", 1) == 0  # a tie goes to the earlier one
    assert relocate("ab ab ab", "cd", 3) is None
    assert relocate("aaa", "aa", 2) == 1  # overlapping occurrences count


# ------------------------------------------------------------------ the view


def test_the_view_numbers_annotations_and_offers_each_user_their_actions(world, draft) -> None:  # type: ignore[no-untyped-def]
    a1 = note(world, draft, "north")
    note(world, draft, "Stay well", slot="closing", who=world.reviewer2)
    reply(world.session, world.marketer, a1.id, text="Fixed.")
    world.session.commit()
    for_rita = draft_annotations(world.session, world.reviewer, draft.id)  # type: ignore[arg-type]
    assert [(i.number, i.slot, i.state, i.by) for i in for_rita.items] == [(1, "greeting", "answered", "rita"), (2, "closing", "open", "rob")]
    assert for_rita.can_annotate and for_rita.open_count == 1
    assert [i.actions for i in for_rita.items] == [("reply", "resolve", "reopen"), ("reply",)]
    assert [(t.by, t.kind, t.text) for t in for_rita.items[0].thread] == [("maria", "reply", "Fixed.")]
    for_maria = draft_annotations(world.session, world.marketer, draft.id)  # type: ignore[arg-type]
    assert not for_maria.can_annotate and [i.actions for i in for_maria.items] == [("reply", "resolve"), ("reply", "resolve")]


# ------------------------------------------------------------------ m011


def test_m011_adds_the_annotation_tables_to_an_older_database(world, draft) -> None:  # type: ignore[no-untyped-def]
    engine = world.engine
    world.session.close()
    cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
    with engine.begin() as c:  # the database as it was before m011
        c.execute(text(f"DROP TABLE annotationreply{cascade}"))
        c.execute(text(f"DROP TABLE annotation{cascade}"))
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm011_annotations'"))
    assert "annotation" not in inspect(engine).get_table_names()
    assert db.migrate(engine) == ["m011_annotations"]
    assert db.migrate(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert {"annotation", "annotationreply"} <= tables
    columns = {c["name"] for c in inspect(engine).get_columns("annotation")}
    assert {"draft_id", "slot", "start_offset", "end_offset", "quote", "revision", "anchored_revision", "outdated", "state", "comment"} <= columns
    with Session(engine, expire_on_commit=False) as s:
        d = s.get(Draft, draft.id)
        assert d is not None and d.slots["greeting"] == GREETING  # the data stayed
        ann = annotate(s, s.merge(world.reviewer), draft.id, slot="greeting", words="north", comment="Works after the upgrade.")
        s.commit()
        assert ann.id is not None


# ------------------------------------------------------------------ two processes at once

RACE_ROUNDS = int(os.environ.get("COUNTERSIGN_RACE_ROUNDS", "8"))


@pytest.fixture(params=BACKENDS)
def racy(request: pytest.FixtureRequest, tmp_path: Path, fake_filler) -> Iterator[tuple[str, str | None, Engine, int]]:  # type: ignore[no-untyped-def]
    """A database two processes can share (a SQLite file, or a PostgreSQL schema), with a draft in
    review: (url, schema, engine, draft id)."""
    from tests.conftest import make_world

    schema = None
    if request.param == "postgresql":
        assert PG_URL
        url, schema = PG_URL, f"ann_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    else:
        url = f"sqlite:///{tmp_path / 'annotations.db'}"
    engine = race_worker.connect(url, schema)
    db.migrate(engine)
    with Session(engine, expire_on_commit=False) as s:
        w = make_world(engine, s)
        generate_campaign(engine, w.marketer, w.campaign_id, fake_filler)
        d = s.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(col(Draft.id))).first()
        assert d is not None
        edit_draft(s, w.marketer, d.id, slots={"greeting": GREETING, "closing": CLOSING})  # type: ignore[arg-type]
        submit_for_review(s, w.marketer, d.id)  # type: ignore[arg-type]
        s.commit()
        yield url, schema, engine, d.id  # type: ignore[misc]
    engine.dispose()
    if schema:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_resolve_racing_reopen_ends_in_one_state_and_tells_the_loser(racy) -> None:  # type: ignore[no-untyped-def]
    url, schema, engine, draft_id = racy
    ctx = multiprocessing.get_context("spawn")
    barrier, inboxes, outboxes = ctx.Barrier(2), [ctx.Queue(), ctx.Queue()], [ctx.Queue(), ctx.Queue()]
    procs = [ctx.Process(target=annotation_race_worker.racer, args=(url, schema, barrier, inboxes[i], outboxes[i]), daemon=True) for i in range(2)]
    for p in procs:
        p.start()
    wins = {"resolve": 0, "reopen": 0}
    try:
        for _ in range(RACE_ROUNDS):
            with Session(engine, expire_on_commit=False) as s:  # an answered annotation, seen by both
                users = {u.username: u for u in s.exec(select(User)).all()}
                ann = annotate(s, users["rita"], draft_id, slot="closing", words="Stay well", comment="Is this a health claim?")
                s.commit()
                reply(s, users["maria"], ann.id, text="It is a greeting, not a claim.")  # type: ignore[arg-type]
                s.commit()
            seen = {"annotation": ann.id, "expected_state": "answered"}
            inboxes[0].put(("resolve", {**seen, "user": "maria"}))
            inboxes[1].put(("reopen", {**seen, "user": "rob"}))
            out = [box.get(timeout=120) for box in outboxes]
            assert not [m for k, m in out if k == "CRASH"], f"a racer crashed instead of getting a clear answer: {out}"
            kinds = [k for k, _ in out]
            assert kinds.count("ok") == 1, f"expected exactly one winner, got {out}"
            won = "resolve" if kinds[0] == "ok" else "reopen"
            wins[won] += 1
            lost_kind, lost_msg = out[1] if won == "resolve" else out[0]
            assert lost_kind == "Conflict", out
            assert (("resolved by maria" if won == "resolve" else "reopened by rob") in lost_msg) and "(you saw it answered); reload" in lost_msg
            with Session(engine) as s:
                row = s.get(Annotation, ann.id)
                assert row is not None and row.state == ("resolved" if won == "resolve" else "open")
                thread = s.exec(select(AnnotationReply.kind).where(AnnotationReply.annotation_id == ann.id).order_by(col(AnnotationReply.id))).all()
                assert thread == ["reply", won]
                decided = s.exec(
                    select(AuditEvent).where(col(AuditEvent.action).in_(["annotation_resolved", "annotation_reopened"]), AuditEvent.entity_id == str(draft_id))
                ).all()
                assert sum(1 for e in decided if e.after["annotation_id"] == ann.id) == 1
    finally:
        for box in inboxes:
            box.put(None)
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():  # pragma: no cover
                p.kill()
    with Session(engine) as s:
        assert audit.verify_chain(s).ok
    assert sum(wins.values()) == RACE_ROUNDS


def test_a_refused_resolution_is_put_on_record_and_changes_nothing(world, draft) -> None:  # type: ignore[no-untyped-def]
    """Through the unit of work the app uses: the refusal rolls back, then lands in the trail."""
    ann = note(world, draft)
    with pytest.raises(PermissionDenied, match="rob did not raise annotation"), db.session_scope(world.engine) as s:
        resolve(s, s.merge(world.reviewer2), ann.id, note="Looks fine to me.")
    (refused,) = events(world, "refused")
    assert (refused.actor, refused.entity, refused.entity_id) == ("rob", "draft", str(draft.id))
    assert refused.after["attempted"] == "resolve an annotation" and refused.after["code"] == "permission_denied"
    world.session.expire_all()
    assert world.session.get(Annotation, ann.id).state == "open"
    assert world.session.exec(select(AnnotationReply)).all() == [] and events(world, "annotation_resolved") == []
