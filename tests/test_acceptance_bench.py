"""The reviewer-acceptance bench's data and arithmetic (bench/acceptance.py); no model here."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from review.brands import load_brand
from review.templates import parse_template

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
REASONS = {"ok", "persona_slip", "contradicts_input", "off_topic", "new_fact", "nonsense", "question", "voice", "repetition", "truncated"}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("acceptance_bench", ROOT / "bench" / "acceptance.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_templates_parse_for_their_brand_and_cover_three_brands(bench):
    items = bench.load_items()
    templates = {(it.brand, it.template) for it in items}
    assert len(templates) >= 6 and len({b for b, _ in templates}) == 3
    for brand, name in templates:
        path = bench.template_path(brand, name)
        spec = parse_template(path.read_text(encoding="utf-8"), load_brand(ROOT / "brand_guidelines" / brand), name=path.name)
        assert {it.slot for it in items if (it.brand, it.template) == (brand, name)} <= set(spec.slots)


def test_item_inputs_are_the_slots_declared_brand_fields(bench):
    for it in bench.load_items():
        policy = load_brand(ROOT / "brand_guidelines" / it.brand)
        path = bench.template_path(it.brand, it.template)
        slot = parse_template(path.read_text(encoding="utf-8"), policy, name=path.name).slots[it.slot]
        assert set(it.inputs) == set(slot.inputs), it.id
        assert not set(it.inputs) & set(policy.sensitive_fields)


@pytest.mark.parametrize(("pool_name", "labels_name", "at_least"), [("pool.jsonl", "labels.jsonl", 300), ("pool_adapt.jsonl", "labels_adapt.jsonl", 150)])
def test_every_pooled_text_has_exactly_one_wellformed_label(bench, pool_name, labels_name, at_least):
    pool = bench.read_jsonl(DATA / pool_name)
    labels = bench.read_jsonl(DATA / labels_name)
    ids = {it.id for it in bench.load_items()}
    pooled = [(r["item"], r["text"]) for r in pool]
    assert len(pooled) == len(set(pooled)) >= at_least
    assert {r["item"] for r in pool} <= ids
    keys = [(d["item"], d["text"]) for d in labels]
    assert len(keys) == len(set(keys)), "a text is labeled twice"
    assert set(keys) == set(pooled), "labels and pool differ"
    for d in labels:
        assert isinstance(d["approvable"], bool) and d["reason"] in REASONS
        assert (d["reason"] == "ok") == d["approvable"], d


def test_split_is_by_item_stable_and_disjoint(bench):
    stored = json.loads((DATA / "split.json").read_text())
    ids = [it.id for it in bench.load_items()]
    assert set(stored) == set(ids)
    assert all(stored[i] == bench.split_of(i) for i in ids), "split.json no longer matches split_of"
    counts = Counter(stored.values())
    assert set(counts) == {"tune", "test"} and min(counts.values()) >= len(ids) // 4
    for row in bench.read_jsonl(DATA / "pool.jsonl"):
        assert row["split"] == stored[row["item"]]
    # Pinned: a change to split_of (which would move items across the halves) must be deliberate.
    assert bench.split_of("harbor-mutual/renewal-reminder/tip/policy_type=home") == stored["harbor-mutual/renewal-reminder/tip/policy_type=home"]


def test_item_id_is_independent_of_input_order(bench):
    assert bench.item_id("b", "t", "s", {"a": "1", "b": "2"}) == bench.item_id("b", "t", "s", {"b": "2", "a": "1"}) == "b/t/s/a=1,b=2"


def test_metric_arithmetic_on_a_hand_made_example(bench):
    L = {
        ("i1", "good one"): {"approvable": True, "reason": "ok"},
        ("i1", "bad one"): {"approvable": False, "reason": "off_topic"},
        ("i2", "good two"): {"approvable": True, "reason": "ok"},
        ("i2", "bad two"): {"approvable": False, "reason": "new_fact"},
        ("i3", "bad three"): {"approvable": False, "reason": "nonsense"},
        ("i4", "bad four"): {"approvable": False, "reason": "persona_slip"},
    }
    results = [
        # chosen good; the bad candidate was dropped by rule A
        {"item": "i1", "source": "model", "text": "good one", "candidates": ["good one", "bad one"], "dropped": {"bad one": ["A"]}},
        # chosen bad (nothing dropped it); rule A wrongly dropped the good one
        {"item": "i2", "source": "model", "text": "bad two", "candidates": ["good two", "bad two"], "dropped": {"good two": ["A"], "bad two": []}},
        # fell back: its only candidate dropped by A and B
        {"item": "i3", "source": "fallback", "text": "approved fallback", "candidates": ["bad three"], "dropped": {"bad three": ["A", "B"]}},
        # the model wrote something never labeled
        {"item": "i4", "source": "model", "text": "something new", "candidates": ["something new", "bad four"], "dropped": {"bad four": []}},
    ]
    m = bench.metrics(results, L)
    assert (m["fills"], m["model"], m["labeled"], m["approved"]) == (4, 3, 2, 1)
    assert m["acceptance"] == pytest.approx(0.5)
    assert m["fallback_rate"] == pytest.approx(0.25)
    assert m["unlabeled"] == [("i4", "something new")]
    assert (m["candidates_labeled"], m["candidates_bad"]) == (6, 4)
    a, b, any_ = m["rules"]["A"], m["rules"]["B"], m["rules"]["(any rule)"]
    assert (a["dropped"], a["tp"]) == (3, 2) and a["precision"] == pytest.approx(2 / 3) and a["recall"] == pytest.approx(2 / 4)
    assert (b["dropped"], b["tp"]) == (1, 1) and b["precision"] == 1.0 and b["recall"] == pytest.approx(1 / 4)
    assert any_["dropped"] == 3 and any_["recall"] == pytest.approx(0.5)
    assert m["rejected_reasons"] == Counter({"new_fact": 1})


def test_metrics_with_nothing_labeled_say_so_rather_than_divide_by_zero(bench):
    m = bench.metrics([{"item": "x", "source": "fallback", "text": "f", "candidates": [], "dropped": {}}], {})
    assert m["acceptance"] is None and m["fallback_rate"] == 1.0 and m["rules"]["(any rule)"]["precision"] is None


@pytest.fixture
def real_guidelines(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(ROOT / "brand_guidelines"))


def test_modes_file_names_real_slots_and_parses_in_every_mode(bench, real_guidelines):
    """modes.json's approved texts make valid adapt/choose slots of the bench templates, and
    must_name lists each slot's own inputs."""
    modes = bench.load_modes()
    items = bench.load_items()
    assert {bench.slot_key(it) for it in items} == set(modes)
    for mode in ("write", "adapt", "choose", "mixed"):
        pipe = bench.Pipeline(mode)
        for it in items:
            slot = pipe.context(it).spec.slots[it.slot]
            assert set(slot.must_name) <= set(slot.inputs)
            if pipe.in_mode(it) and mode in ("adapt", "choose"):
                assert slot.mode == mode and (slot.base or slot.alternatives), it.id
    mixed = bench.Pipeline("mixed")
    tip = next(it for it in items if it.slot == "tip")
    assert mixed.context(tip).spec.slots["tip"].mode == "choose"  # the most restrained mode with approved texts
    assert mixed.context(tip).spec.slots["opening"].mode == "adapt"


def test_replay_gives_each_candidate_index_its_pooled_text(bench):
    """Replay reads the pool back by candidate index: N=1 and N=4 are prefixes of N=8, and every
    non-empty replayed text is a pooled (so labeled) one."""
    items = [it for it in bench.load_items() if bench.split_of(it.id) == "tune"][:6]
    rep = bench.Replay("adapt")
    eight = rep.candidates(items, 8)
    assert [c[:4] for c in eight] == rep.candidates(items, 4) and [c[:1] for c in eight] == rep.candidates(items, 1)
    pooled = {(r["item"], r["text"]) for r in bench.read_jsonl(DATA / "pool_adapt.jsonl")}
    assert all((it.id, t) in pooled for it, cands in zip(items, eight, strict=True) for t in cands if t)
    with pytest.raises(SystemExit, match="cannot give N=9"):
        rep.candidates(items, 9)


def test_a_model_text_equal_to_the_approved_base_counts_as_falling_back(bench, real_guidelines):
    """No personalization happened: the pipeline calls it a model fill, the bench a fallback."""
    pipe = bench.Pipeline("adapt")
    items = [it for it in bench.load_items() if it.slot == "thanks"][:2]
    base = "Thank you for banking with Northbank."

    class GivesBaseBack:
        def candidates(self, asked, n):  # type: ignore[no-untyped-def]
            return [[base] * n for _ in asked]

    text, meta = pipe.select(items[0], [base])
    assert (text, meta["source"]) == (base, "model")
    results, _, _ = bench.run(GivesBaseBack(), pipe, items, 2, None)
    assert [(r["source"], r["text"]) for r in results] == [("base", base)] * 2
    m = bench.metrics(results, {})
    assert (m["model"], m["fell_back"], m["fallback_rate"]) == (0, 2, 1.0)
