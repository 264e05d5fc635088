"""Generation jobs: resume without duplicates, cache hits, cancellation, fallbacks, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from review.campaigns import create_campaign
from review.errors import Conflict, InvalidInput, NotFound, TemplateError
from review.filling import FakeFiller, GenerationSettings
from review.generation import cancel_job, derive_seed, generate_campaign, progress, regenerate_slot, regenerate_verify, run_job, start_job
from review.models import AuditEvent, Draft, DraftRevision, GenerationJob, JobStatus, TemplateVersion, Variant


def _drafts(session: Session, campaign_id: int) -> list[Draft]:
    session.expire_all()
    return list(session.exec(select(Draft).where(Draft.campaign_id == campaign_id).order_by(Draft.variant_id)).all())


def test_resume_after_interruption_gives_the_same_drafts_without_duplicates(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    f1 = FakeFiller()
    job = start_job(w.session, w.marketer, w.campaign_id)
    w.session.commit()
    # Simulate a crash after the first batch of one variant.
    p = run_job(w.engine, job.id, f1, batch_variants=1, stop_after_batches=1)
    assert p.status == "running" and p.done == 1
    assert len(_drafts(w.session, w.campaign_id)) == 1
    # Restart: the unfinished job is found again and resumed.
    again = start_job(w.session, w.marketer, w.campaign_id)
    w.session.commit()
    assert again.id == job.id
    p = run_job(w.engine, job.id, FakeFiller(), batch_variants=1)
    assert p.status == "done" and p.done == p.total == 4
    resumed = _drafts(w.session, w.campaign_id)
    assert len(resumed) == 4 and len({d.variant_id for d in resumed}) == 4
    assert len(w.session.exec(select(DraftRevision)).all()) == 4

    # The same campaign generated in one go (fresh database objects) gives identical texts.
    camp2 = create_campaign(w.session, w.marketer, name="again", template_version_id=w.template_version_id, audience_id=w.audience_id)
    w.session.commit()
    f3 = FakeFiller()
    generate_campaign(w.engine, w.marketer, camp2.id, f3)
    assert [d.slots for d in _drafts(w.session, camp2.id)] == [d.slots for d in resumed]
    assert f3.history == []  # and every fill came from the cache: the model was not asked again


def test_fill_cache_is_keyed_by_settings(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    f = FakeFiller()
    generate_campaign(w.engine, w.marketer, w.campaign_id, f)
    asked = len(f.history)
    # 3 consenting variants x 2 slots = 6 fills, but two variants share city=Leeds, so the
    # greeting prompt for Leeds is asked once; the no-consent variant never asks.
    assert asked == 5
    camp2 = create_campaign(w.session, w.marketer, name="other settings", template_version_id=w.template_version_id, audience_id=w.audience_id)
    w.session.commit()
    generate_campaign(w.engine, w.marketer, camp2.id, f, GenerationSettings(n_candidates=2))
    assert len(f.history) == asked + 5


def test_every_candidate_failing_falls_back_and_is_marked(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    f = FakeFiller()
    f.enqueue(["A guaranteed miracle cure!"] * 4)  # every candidate of the first request breaks a rule
    generate_campaign(w.engine, w.marketer, w.campaign_id, f, GenerationSettings(n_candidates=4), batch_variants=1)
    drafts = _drafts(w.session, w.campaign_id)
    failed = [d for d in drafts if d.fallback_count]
    # The first request (greeting for Leeds) failed; the other Leeds variant reuses that
    # cached outcome. York's greeting and every closing came from the model.
    assert sorted(w.session.get(Variant, d.variant_id).inputs["city"] for d in failed) == ["Leeds", "Leeds"]
    for d in failed:
        meta = d.slot_meta["greeting"]
        assert meta["source"] == "fallback" and meta["model_failed"] is True and meta["qualified"] == 0
        assert d.slots["greeting"] == "Hello from all of us at Acme."
        assert d.slot_meta["closing"]["source"] == "model"
        assert d.error_count == 0


def test_best_candidate_wins_over_flawed_ones(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    f = FakeFiller()
    f.enqueue(["Guaranteed relief for Leeds!", "Cheap advice for Leeds.", "Hello from all of us to everyone in Leeds.", ""])
    generate_campaign(w.engine, w.marketer, w.campaign_id, f, GenerationSettings(n_candidates=4), batch_variants=1)
    first = _drafts(w.session, w.campaign_id)[0]
    assert first.slots["greeting"] == "Hello from all of us to everyone in Leeds."
    assert first.slot_meta["greeting"]["source"] == "model" and first.slot_meta["greeting"]["chosen"] == 2


def test_cancel_stops_between_batches(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    job = start_job(w.session, w.marketer, w.campaign_id)
    w.session.commit()
    run_job(w.engine, job.id, FakeFiller(), batch_variants=1, stop_after_batches=1)
    cancel_job(w.session, w.marketer, job.id)
    w.session.commit()
    p = run_job(w.engine, job.id, FakeFiller(), batch_variants=1)
    assert p.status == "cancelled" and p.done == 1
    assert w.session.exec(select(AuditEvent).where(AuditEvent.action == "generation_cancelled")).first()
    # A cancelled job is finished; a new one picks up the rest.
    p2 = generate_campaign(w.engine, w.marketer, w.campaign_id, FakeFiller())
    assert p2.status == "done" and len(_drafts(w.session, w.campaign_id)) == 4


def test_progress_and_seed_are_recorded(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    seen = []
    generate_campaign(w.engine, w.marketer, w.campaign_id, FakeFiller(), batch_variants=2, first_batch=2, on_progress=seen.append)
    assert [p.done for p in seen] == [2, 4] and all(p.total == 4 for p in seen)
    job = w.session.exec(select(GenerationJob)).one()
    assert progress(w.session, job.id).status == "done"
    d = _drafts(w.session, w.campaign_id)[0]
    v = w.session.get(Variant, d.variant_id)
    meta = d.slot_meta["greeting"]
    assert meta["inputs"] == {"city": v.inputs["city"]}
    template_hash = w.session.get(TemplateVersion, w.template_version_id).content_hash
    assert meta["seed"] == derive_seed(template_hash, "greeting", meta["inputs"])
    assert d.settings == GenerationSettings().to_dict() and len(d.prompt_fingerprint) == 64


def test_every_prompt_for_the_demo_audience_holds_only_declared_fields(sqlite_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Restraint by construction, proved on the real demo brand, templates and 200 recipients."""
    import csv
    import io
    from pathlib import Path

    from review.demo import demo_audience_csv, seed_demo
    from review.templates import parse_template

    root = Path(__file__).parent.parent
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root / "brand_guidelines"))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(root / "templates"))
    filler = FakeFiller()
    seed_demo(sqlite_engine, filler=filler, log=lambda _m: None)
    assert filler.history, "the demo campaign should have asked the model"
    spec = parse_template((root / "templates" / "harbor-mutual" / "renewal-reminder.j2").read_text(encoding="utf-8"))
    declared = {f for s in spec.slots.values() for f in s.inputs}
    rows = list(csv.DictReader(io.StringIO(demo_audience_csv())))
    prompts = [json.dumps(p.messages, ensure_ascii=False) for p, _ in filler.history]
    for row in rows:
        for field, value in row.items():
            if field in declared or not value or field == "personalization_consent":
                continue
            # Names, e-mails, cities (not declared here), health and debt data never reach the model.
            if field in ("id", "tenure_years") or value in ("home", "motor", "travel"):
                continue
            assert not any(f'"{value}"' in p or f": {value}" in p for p in prompts), (field, value)
    # No prompt even names a field its slot did not declare (as a key of its data block).
    undeclared = set(rows[0]) - declared - {"personalization_consent"}
    for p, _ in filler.history:
        content = "\n".join(m["content"] for m in p.messages)
        assert '"tenure_years"' in content or '"policy_type"' in content
        assert not [f for f in undeclared if f'"{f}"' in content], content


def test_progress_moves_early_and_the_batching_does_not_change_the_text(world) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 item 4: batches start at one variant and double, so the first draft, a rate and an
    ETA come after one variant's model time, not the whole campaign's; the drafts are the ones a
    single batch gives."""
    from review.models import FillCache

    w = world
    seen: list = []
    generate_campaign(w.engine, w.marketer, w.campaign_id, FakeFiller(), on_progress=seen.append)
    assert [p.done for p in seen] == [1, 3, 4]
    assert seen[0].eta_seconds is not None
    ramped = {w.session.get(Variant, d.variant_id).key: d.slots for d in _drafts(w.session, w.campaign_id)}
    for c in w.session.exec(select(FillCache)).all():  # no cache hits: the model runs again
        w.session.delete(c)
    camp2 = create_campaign(w.session, w.marketer, name="one batch", template_version_id=w.template_version_id, audience_id=w.audience_id)
    w.session.commit()
    one: list = []
    generate_campaign(w.engine, w.marketer, camp2.id, FakeFiller(), first_batch=32, on_progress=one.append)
    assert [p.done for p in one] == [4]
    single = {w.session.get(Variant, d.variant_id).key: d.slots for d in _drafts(w.session, camp2.id)}
    assert ramped == single


def test_progress_of_a_running_job_has_elapsed_time_and_eta(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    job = start_job(w.session, w.marketer, w.campaign_id)
    w.session.commit()
    run_job(w.engine, job.id, FakeFiller(), stop_after_batches=1)
    with Session(w.engine) as fresh:  # read back from the database, as the page's poll does
        p = progress(fresh, job.id)
    assert p.status == "running" and p.done == 1 and p.total == 4
    assert p.elapsed_seconds is not None and p.elapsed_seconds >= 0 and p.eta_seconds is not None


def test_seeding_the_demo_twice_changes_nothing_and_needs_no_model(sqlite_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`make demo` runs seed-demo every time: the second run must pass, without loading a model."""
    from pathlib import Path

    from review.demo import seed_demo
    from review.filling import FakeFiller

    root = Path(__file__).parent.parent
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root / "brand_guidelines"))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(root / "templates"))
    first = seed_demo(sqlite_engine, filler=FakeFiller(), log=lambda _m: None)
    again = FakeFiller()
    second = seed_demo(sqlite_engine, filler=again, log=lambda _m: None)
    assert second == first and again.history == []


def test_regenerate_verify_reproduces_every_draft_and_names_what_differs(world) -> None:  # type: ignore[no-untyped-def]
    """The contract behind `python -m review regenerate --verify`: the pipeline run again from the
    recorded seed, settings and prompt gives the stored text; anything else is named."""
    from review.filling import FakeFiller as Fake

    w = world
    generate_campaign(w.engine, w.marketer, w.campaign_id, Fake(), GenerationSettings(n_candidates=3))
    drafts = _drafts(w.session, w.campaign_id)
    for d in drafts:
        report = regenerate_verify(w.session, d.id, Fake())
        assert report.matches, str(report)
        personalized = w.session.get(Variant, d.variant_id).personalized
        assert set(report.slots.values()) == ({"match"} if personalized else {"not generated (no_consent)"})
    d = next(d for d in drafts if d.slot_meta["greeting"]["source"] == "model")
    first = w.session.exec(select(DraftRevision).where(DraftRevision.draft_id == d.id, DraftRevision.revision == 1)).one()
    first.slots = {**first.slots, "greeting": "Text nobody generated."}
    w.session.add(first)
    w.session.commit()
    report = regenerate_verify(w.session, d.id, Fake())
    assert not report.matches and report.slots["greeting"].startswith("differs: regenerated") and report.slots["closing"] == "match"
    assert str(report).startswith(f"draft {d.id}: DIFFERS")

    class OtherModel(Fake):
        fingerprint = "f" * 64

    report = regenerate_verify(w.session, d.id, OtherModel())
    assert not report.matches and list(report.slots) == ["*"] and "differs from recorded" in report.slots["*"]
    with pytest.raises(NotFound):
        regenerate_verify(w.session, 10_000, Fake())


def test_regenerate_slot_asks_again_with_a_new_seed_and_refuses_what_it_cannot_do(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    generate_campaign(w.engine, w.marketer, w.campaign_id, FakeFiller())
    drafts = _drafts(w.session, w.campaign_id)
    d = next(d for d in drafts if w.session.get(Variant, d.variant_id).inputs.get("city") == "York")
    seed = d.slot_meta["greeting"]["seed"]
    f = FakeFiller(["Hello to everyone at Acme in York."] * 4)
    edited = regenerate_slot(w.session, w.marketer, d.id, "greeting", f, attempt=2)
    w.session.commit()
    assert edited.slots["greeting"] == "Hello to everyone at Acme in York." and edited.revision == 2
    assert [s for _, s in f.history] == [seed + 2]  # one prompt, the attempt's seed
    assert f.history[0][0].fingerprint == d.slot_meta["greeting"]["prompt_fingerprint"]  # the prompt generation sent
    with pytest.raises(Conflict, match="same text again"):
        regenerate_slot(w.session, w.marketer, d.id, "greeting", FakeFiller(["Hello to everyone at Acme in York."] * 4))
    with pytest.raises(InvalidInput, match="unknown slot 'nope'"):
        regenerate_slot(w.session, w.marketer, d.id, "nope", FakeFiller())
    no_consent = next(d for d in drafts if not w.session.get(Variant, d.variant_id).personalized)
    with pytest.raises(InvalidInput, match="no personalization consent"):
        regenerate_slot(w.session, w.marketer, no_consent.id, "greeting", FakeFiller())


def test_finished_work_is_a_conflict_not_a_new_job(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    p = generate_campaign(w.engine, w.marketer, w.campaign_id, FakeFiller())
    assert p.status == JobStatus.DONE
    with pytest.raises(Conflict, match=f"already has a draft \\(job {p.job_id}, done\\)"):
        start_job(w.session, w.marketer, w.campaign_id)
    with pytest.raises(Conflict, match="only a queued or running job can be cancelled"):
        cancel_job(w.session, w.marketer, p.job_id)


def test_a_field_made_sensitive_after_the_campaign_fails_the_job_with_a_clear_message(tmp_path, monkeypatch, build_world) -> None:  # type: ignore[no-untyped-def]
    """The brand may call a field sensitive after a campaign was made: the model never sees it,
    and the user is told which slot and field in words (a TemplateError), recorded on the job."""
    import shutil

    from review.checks import forget_stamps

    root = tmp_path / "brands"
    shutil.copytree(Path(__file__).parent / "fixtures" / "brands", root)
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root))
    w = build_world()
    brand = root / "acme-pharma" / "brand.yaml"
    text = brand.read_text(encoding="utf-8").replace("    city: {type: city}\n", "")
    brand.write_text(text.replace("sensitive_fields: [health_condition]", "sensitive_fields: [health_condition, city]"), encoding="utf-8")
    forget_stamps()
    f = FakeFiller()
    with pytest.raises(TemplateError, match="slot 'greeting' declares the sensitive field\\(s\\) city"):
        generate_campaign(w.engine, w.marketer, w.campaign_id, f)
    assert f.history == []  # no prompt was built, let alone sent
    job = w.session.exec(select(GenerationJob)).one()
    w.session.refresh(job)
    assert job.status == JobStatus.FAILED and "sensitive field(s) city" in job.error
    assert w.session.exec(select(AuditEvent).where(AuditEvent.action == "generation_failed")).one()
    assert _drafts(w.session, w.campaign_id) == []
