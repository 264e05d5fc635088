"""Generation jobs: resume without duplicates, cache hits, cancellation, fallbacks, determinism."""

from __future__ import annotations

import dataclasses
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


# ---------------------------------------------------------------------------- slot modes

MODES_TEMPLATE = """---
name: Acme modes
channel: email
subject: "News for {{ recipient.first_name }}"
slots:
  greeting:
    mode: adapt
    base: Hello from all of us at Acme.
    inputs: [city]
    max_words: 15
    examples: ["Hello from all of us at Acme to everyone in Leeds."]
  closing:
    mode: choose
    inputs: [age_band]
    max_words: 15
    alternatives:
      - text: Enjoy the rest of the season.
        when: {age_band: 18-34}
      - text: Stay well this winter.
        when: {age_band: [35-54, 55+]}
      - With best wishes from Acme.
    fallback: With best wishes from Acme.
---
Dear {{ recipient.first_name }},

{{ slots.greeting }}

Our new leaflet explains how to store your medicines safely.

{{ slots.closing }}

Talk to your doctor before changing any treatment.
"""


def _modes_campaign(w, name: str = "modes") -> int:  # type: ignore[no-untyped-def]
    from review.template_versions import save_template

    tv = save_template(w.session, w.marketer, brand_slug="acme-pharma", source=MODES_TEMPLATE)
    camp = create_campaign(w.session, w.marketer, name=name, template_version_id=tv.id, audience_id=w.audience_id)
    w.session.commit()
    return camp.id


def test_adapt_and_choose_fill_from_approved_text_and_say_why(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    camp = _modes_campaign(w)
    f = FakeFiller()  # answers with the slot's example: "... to everyone in Leeds."
    generate_campaign(w.engine, w.marketer, camp, f)
    drafts = {tuple(sorted(w.session.get(Variant, d.variant_id).inputs.items())): d for d in _drafts(w.session, camp)}
    assert all("Acme modes" not in json.dumps(p.messages) for p, _ in f.history)  # the choose slot never reaches the model
    assert all("Rewrite this approved sentence" in p.messages[-1]["content"] for p, _ in f.history)
    assert len(f.history) == 2  # one adapt prompt per consenting city; none for the choose slot

    leeds = drafts[(("age_band", "18-34"), ("city", "Leeds"))]
    assert leeds.slots == {"greeting": "Hello from all of us at Acme to everyone in Leeds.", "closing": "Enjoy the rest of the season."}
    g = leeds.slot_meta["greeting"]
    assert g["source"] == "model" and g["mode"] == "adapt" and g["dropped"] == []
    assert g["score_parts"]["base"] == 10.0 and g["score_parts"]["copies_example"] == -3.0 and round(sum(g["score_parts"].values()), 6) == g["score"]
    c = leeds.slot_meta["closing"]
    # Two alternatives fit 18-34 (the first and the unconditional one): the more specific wins.
    assert c["source"] == "alternative" and c["alternative"] == 0 and c["matching"] == [0, 2] and "most conditions" in c["why"]
    assert "seed" not in c and "prompt_fingerprint" not in c

    york = drafts[(("age_band", "35-54"), ("city", "York"))]
    if york.slot_meta["greeting"]["source"] == "no_consent":  # York's consenting and refusing rows are separate groups
        york = next(d for k, d in drafts.items() if dict(k)["city"] == "York" and d.slot_meta["greeting"]["source"] != "no_consent")
    # The example's "Leeds" is a name neither the base nor city=York holds: every candidate is dropped, the base stays.
    g = york.slot_meta["greeting"]
    assert york.slots["greeting"] == "Hello from all of us at Acme." and g["source"] == "base" and "approved base" in g["fell_back"]
    assert len(g["dropped"]) == g["candidates"] == 4 and {d["rule"] for d in g["dropped"]} == {"adapt.new_fact"}
    assert "Leeds" in g["dropped"][0]["why"]
    assert york.slots["closing"] == "Stay well this winter." and york.fallback_count == 1

    # Reproducible in every mode: regenerate_verify matches each draft slot by slot.
    for d in drafts.values():
        report = regenerate_verify(w.session, d.id, FakeFiller())
        assert report.matches, str(report)
    # And a choose slot has nothing to regenerate.
    with pytest.raises(InvalidInput, match="picks from approved alternatives"):
        regenerate_slot(w.session, w.marketer, leeds.id, "closing", FakeFiller())


def test_a_resumed_modes_job_gives_the_same_drafts_and_the_cache_key_names_the_approved_texts(world) -> None:  # type: ignore[no-untyped-def]
    from review.generation import cache_key
    from review.templates import parse_template

    w = world
    camp = _modes_campaign(w, "resumed")
    job = start_job(w.session, w.marketer, camp)
    w.session.commit()
    run_job(w.engine, job.id, FakeFiller(), batch_variants=1, stop_after_batches=1)
    run_job(w.engine, job.id, FakeFiller(), batch_variants=1)
    resumed = [(d.slots, d.slot_meta["closing"]) for d in _drafts(w.session, camp)]
    camp2 = _modes_campaign(w, "in one go")
    generate_campaign(w.engine, w.marketer, camp2, FakeFiller())
    assert [(d.slots, d.slot_meta["closing"]) for d in _drafts(w.session, camp2)] == resumed

    slot = parse_template(MODES_TEMPLATE).slots["greeting"]
    s = GenerationSettings()
    args = ("fp", "t", "greeting", {"city": "Leeds"}, s)
    other_base = dataclasses.replace(slot, base="Hello from Acme.")
    assert cache_key(*args, slot.approved_texts()) != cache_key(*args, other_base.approved_texts()) != cache_key(*args)
    # A write slot's key is what it was before modes existed (caches stay valid).
    write = dataclasses.replace(slot, mode="write", base="")
    assert cache_key(*args, write.approved_texts()) == cache_key(*args)


def test_adapt_drops_drift_new_facts_and_claims_by_rule() -> None:
    from review.generation.modes import adapt_drop
    from review.slot_modes import adapt_problem
    from review.templates import parse_template

    slot = parse_template(MODES_TEMPLATE).slots["greeting"]
    # Meaning, with the real embedding model: good adaptations keep it, a tip about driving does not.
    assert adapt_drop(slot, "Hello from all of us at Acme to everyone in York.", {"city": "York"}) is None
    rule, why = adapt_drop(slot, "Please get your driver's license before a trip.", {"city": "York"})  # type: ignore[misc]
    assert rule == "adapt.meaning" and "floor 0.55" in why
    base, inputs = "Thank you for trusting Harbor Mutual with your cover.", {"tenure_years": "3"}
    assert adapt_problem("Thank you for trusting Harbor Mutual with your cover for 3 years.", base, inputs, 0.9) is None
    assert adapt_problem("Thank you for trusting Harbor Mutual with your cover for 30 years.", base, inputs, 0.9) == (
        "adapt.new_fact",
        "adds the number 30, which neither the base nor the inputs hold",
    )
    assert adapt_problem("Thank you for trusting Harbor Mutual in Bristol for 3 years.", base, inputs, 0.9)[0] == "adapt.new_fact"  # type: ignore[index]
    assert adapt_problem("Thank you for trusting the best insurer with your cover for 3 years.", base, inputs, 0.9)[0] == "adapt.new_claim"  # type: ignore[index]


def test_choose_picks_deterministically_and_falls_back_when_nothing_fits() -> None:
    from review.generation.modes import choose_fill
    from review.slot_modes import Alternative, choose_alternative

    home, motor = (("policy_type", ("home",)),), (("policy_type", ("motor",)),)
    alts = [Alternative("Keep photos of your valuables.", home), Alternative("Check your named drivers.", motor)]
    assert choose_alternative(alts, {"policy_type": "motor"}, lambda a, b: 0.0)[0] == 1
    none = choose_alternative(alts, {"policy_type": "pet"}, lambda a, b: 0.0)
    assert none == (None, {"matching": [], "why": "no alternative's conditions hold for these inputs"})
    # Equally specific: the closest in meaning to the inputs, ties to the first listed.
    two = [Alternative("Drive safely this winter."), Alternative("Keep photos of your valuables at home.")]
    idx, why = choose_alternative(two, {"policy_type": "home"}, lambda a, b: 0.8 if "home" in a else 0.2)
    assert idx == 1 and why["similarity"] == {"0": 0.2, "1": 0.8}
    assert choose_alternative(two, {"policy_type": "home"}, lambda a, b: 0.5)[0] == 0
    from review.templates import parse_template

    slot = parse_template(MODES_TEMPLATE).slots["closing"]
    text, meta = choose_fill(slot, {"age_band": "unknown"})
    assert (text, meta["source"]) == ("With best wishes from Acme.", "alternative")  # the unconditional one
    bare = dataclasses.replace(slot, alternatives=slot.alternatives[:2])
    text, meta = choose_fill(bare, {"age_band": "unknown"})
    assert (text, meta["source"]) == (slot.fallback, "fallback") and "no alternative" in meta["fell_back"]


def test_a_brands_adapt_floor_is_read_with_its_line_and_decides_drift(tmp_path: Path) -> None:
    """personalization.adapt_min_similarity: per brand, validated with file and line; the
    pipeline's adapt_drop uses it in place of the default."""
    from review.brands import BrandFileError, load_brand
    from review.generation.modes import adapt_drop
    from review.slot_modes import ADAPT_SIMILARITY_FLOOR
    from review.templates import parse_template

    base = (Path(__file__).parent / "fixtures" / "brands" / "acme-pharma" / "brand.yaml").read_text()
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "brand.yaml").write_text(base, encoding="utf-8")
    assert load_brand(folder).adapt_min_similarity is None
    with_floor = base.replace("personalization:\n", "personalization:\n  adapt_min_similarity: 0.8\n", 1)
    (folder / "brand.yaml").write_text(with_floor, encoding="utf-8")
    assert load_brand(folder).adapt_min_similarity == 0.8
    line = base.splitlines().index("personalization:") + 2
    for bad in ("1", "-0.1", "true", "'0.5'"):
        (folder / "brand.yaml").write_text(with_floor.replace("0.8", bad, 1), encoding="utf-8")
        with pytest.raises(BrandFileError, match="adapt_min_similarity") as e:
            load_brand(folder)
        assert e.value.line == line
    slot = parse_template(MODES_TEMPLATE).slots["greeting"]
    text, inputs = "Hello from all of us at Acme to everyone in York.", {"city": "York"}
    assert ADAPT_SIMILARITY_FLOOR < 0.7
    assert adapt_drop(slot, text, inputs, sim=lambda a, b: 0.7) is None  # the default floor
    rule, why = adapt_drop(slot, text, inputs, sim=lambda a, b: 0.7, floor=0.8)  # type: ignore[misc]
    assert rule == "adapt.meaning" and "floor 0.80" in why
