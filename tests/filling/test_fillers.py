"""FakeFiller behaviour, model-path errors, and (marked) real-model determinism."""

from __future__ import annotations

from pathlib import Path

import pytest

from review.errors import ModelLoadError
from review.filling import FakeFiller, GenerationSettings, TransformersFiller, build_prompt, clean_output, default_model_path, load_filler
from review.templates import SlotSpec


def test_fake_filler_enqueue_and_history(welcome_slot: SlotSpec) -> None:
    fake = FakeFiller()
    fake.enqueue(["one", "two", "three"])
    p1 = build_prompt(welcome_slot, {"city": "York"})
    p2 = build_prompt(welcome_slot, {"city": "Hull"})
    out = fake.generate([p1, p2], seeds=[7, 8], settings=GenerationSettings(n_candidates=2))
    assert out[0] == ["one", "two"]
    assert out[1][0] == "three" and out[1][1] in welcome_slot.examples  # queue ran dry -> examples
    assert fake.history == [(p1, 7), (p2, 8)]


def test_fake_filler_is_deterministic_and_greedy_gives_one(welcome_slot: SlotSpec) -> None:
    p = build_prompt(welcome_slot, {"city": "York"})
    a = FakeFiller().generate([p], seeds=[3], settings=GenerationSettings())
    b = FakeFiller().generate([p], seeds=[3], settings=GenerationSettings())
    assert a == b and len(a[0]) == 4
    assert len(FakeFiller().generate([p], seeds=[3], settings=GenerationSettings(), greedy=True)[0]) == 1
    with pytest.raises(ValueError):
        FakeFiller().generate([p], seeds=[], settings=GenerationSettings())


def test_missing_model_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model.gguf"
    with pytest.raises(ModelLoadError) as info:
        TransformersFiller(missing, cache_dir=tmp_path / "cache")
    assert str(missing) in str(info.value)
    assert "COUNTERSIGN_MODEL_PATH" in str(info.value)


def test_broken_model_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf")
    with pytest.raises(ModelLoadError, match="broken.gguf"):
        TransformersFiller(bad, cache_dir=tmp_path / "cache")


def test_default_model_path_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_MODEL_PATH", str(tmp_path / "m"))
    assert default_model_path() == tmp_path / "m"
    with pytest.raises(ModelLoadError, match=str(tmp_path / "m")):
        load_filler()
    monkeypatch.delenv("COUNTERSIGN_MODEL_PATH")
    assert default_model_path().suffix == ".gguf"


@pytest.mark.model
def test_real_model_same_seed_same_output_and_batch_independent(real_filler: TransformersFiller, welcome_slot: SlotSpec, tip_slot: SlotSpec) -> None:
    settings = GenerationSettings(n_candidates=2, max_new_tokens=24)
    target = build_prompt(welcome_slot, {"city": "York"}, "Warm.")
    others = [build_prompt(welcome_slot, {"city": c}, "Warm.") for c in ("Kingston upon Hull", "Ely")]
    others.append(build_prompt(tip_slot, {"policy_type": "motor"}, "Warm."))
    alone = real_filler.generate([target], seeds=[11], settings=settings)[0]
    again = real_filler.generate([target], seeds=[11], settings=settings)[0]
    mixed = real_filler.generate([others[0], target, *others[1:]], seeds=[1, 11, 2, 3], settings=settings)[1]
    assert alone == again == mixed
    assert len(alone) == 2 and alone[0] != alone[1]  # candidates differ from each other


@pytest.mark.model
def test_real_model_greedy_is_usable(real_filler: TransformersFiller, welcome_slot: SlotSpec) -> None:
    out = real_filler.generate([build_prompt(welcome_slot, {"city": "York"})], seeds=[0], settings=GenerationSettings(max_new_tokens=32), greedy=True)
    assert len(out[0]) == 1
    assert clean_output(out[0][0], welcome_slot.max_words)
    assert len(real_filler.fingerprint) == 64
