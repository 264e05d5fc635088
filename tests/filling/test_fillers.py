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


def test_preallocated_cache_layer_behaves_like_dynamic_layer() -> None:
    """Same keys/values as transformers' DynamicLayer through prefill, decode, pruning and repeat."""
    import torch
    from transformers.cache_utils import DynamicCache, DynamicLayer

    from review.filling.model import preallocate

    gen = torch.Generator().manual_seed(0)

    def kv(batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(batch, 3, length, 8, generator=gen), torch.randn(batch, 3, length, 8, generator=gen)

    plain, fast = DynamicCache(), DynamicCache()
    first = [kv(4, 5) for _ in range(2)]
    for layer, (k, v) in enumerate(first):
        plain.update(k, v, layer)
        fast.update(k, v, layer)
    assert preallocate(fast, extra=2)  # room for 2 steps; a 3rd forces the grow path
    assert all(type(layer) is not DynamicLayer for layer in fast.layers)
    for step in range(3):
        if step == 1:
            for cache in (plain, fast):
                cache.batch_select_indices(torch.tensor([0, 2, 3]))
                cache.batch_repeat_interleave(2)
        batch = 4 if step == 0 else 6
        for layer in range(2):
            k, v = kv(batch, 1)
            want = plain.update(k, v, layer)
            got = fast.update(k, v, layer)
            assert torch.equal(want[0], got[0]) and torch.equal(want[1], got[1])
        assert plain.get_seq_length() == fast.get_seq_length() == 6 + step


def test_preallocate_leaves_other_caches_alone() -> None:
    from transformers.cache_utils import DynamicCache

    from review.filling.model import preallocate

    assert not preallocate(DynamicCache(), extra=4)  # nothing initialized yet
    assert not preallocate(object(), extra=4)


@pytest.mark.model
def test_real_model_preallocated_cache_changes_nothing(real_filler: TransformersFiller, welcome_slot: SlotSpec, tip_slot: SlotSpec) -> None:
    settings = GenerationSettings(n_candidates=3, max_new_tokens=24)
    prompts = [build_prompt(welcome_slot, {"city": c}, "Warm.") for c in ("York", "Ely")] + [build_prompt(tip_slot, {"policy_type": "pet"}, "Warm.")]
    try:  # the plain (unshared) decode path, with and without preallocated storage
        real_filler.shared_prefix = False
        real_filler.preallocate_cache = False
        plain = real_filler.generate(prompts, seeds=[1, 2, 3], settings=settings)
        real_filler.preallocate_cache = True
        assert real_filler.generate(prompts, seeds=[1, 2, 3], settings=settings) == plain
    finally:
        real_filler.preallocate_cache = real_filler.shared_prefix = True


@pytest.mark.model
def test_real_model_shared_head_decoding_changes_nothing(real_filler: TransformersFiller, welcome_slot: SlotSpec, tip_slot: SlotSpec) -> None:
    """The bundled model passes the load-time probe, and storing the head once gives the same drafts."""
    assert real_filler.shared_prefix
    settings = GenerationSettings(n_candidates=3, max_new_tokens=24)
    prompts = [build_prompt(welcome_slot, {"city": c}, "Warm.") for c in ("York", "Ely")] + [build_prompt(tip_slot, {"policy_type": "pet"}, "Warm.")]
    shared = real_filler.generate(prompts, seeds=[4, 5, 6], settings=settings)
    try:
        real_filler.shared_prefix = False
        plain = real_filler.generate(prompts, seeds=[4, 5, 6], settings=settings)
    finally:
        real_filler.shared_prefix = True
    assert shared == plain


@pytest.mark.model
def test_probe_refuses_shared_heads_when_the_model_bypasses_them(real_filler: TransformersFiller, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model whose attention never calls ours would attend to the tail only: the probe says no."""
    from review.filling import shared_prefix

    def enter_without_switching(self: shared_prefix.active) -> shared_prefix.SharedHeads:
        self.previous = self.model.config._attn_implementation
        shared_prefix._state.heads = self.heads
        return self.heads

    assert real_filler._probe_shared_prefix()
    monkeypatch.setattr(shared_prefix.active, "__enter__", enter_without_switching)
    assert not real_filler._probe_shared_prefix()


@pytest.mark.model
def test_probe_verdict_is_remembered_per_model(real_filler: TransformersFiller, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def probe() -> bool:
        calls.append(1)
        return False

    monkeypatch.setattr(real_filler, "cache_dir", tmp_path)
    monkeypatch.setattr(real_filler, "_probe_shared_prefix", probe)
    assert real_filler._shared_prefix_verdict() is False
    assert real_filler._shared_prefix_verdict() is False
    assert len(calls) == 1  # the second load reads the verdict
    monkeypatch.setattr(real_filler, "fingerprint", "0" * 64)  # other weights: probed again
    real_filler._shared_prefix_verdict()
    assert len(calls) == 2


def test_nucleus_sampling_of_a_row_ignores_its_batch_mates() -> None:
    """A peaked row (top-512 suffices) and a flat row (full sort) pick the same alone as together."""
    import torch

    from review.filling.model import TransformersFiller as Filler

    settings = GenerationSettings()
    gen = torch.Generator().manual_seed(1)
    peaked = torch.randn(3, 49152, generator=gen) * 12
    flat = torch.randn(2, 49152, generator=gen) * 0.1  # top-512 mass far below top_p
    uniforms = torch.rand(5, generator=gen, dtype=torch.float64)
    history = torch.zeros((5, 0), dtype=torch.long)
    together = Filler._pick(torch.cat([peaked, flat]), history, uniforms, settings, False)
    alone_peaked = Filler._pick(peaked, history[:3], uniforms[:3], settings, False)
    alone_flat = Filler._pick(flat, history[3:], uniforms[3:], settings, False)
    assert together.tolist() == alone_peaked.tolist() + alone_flat.tolist()
    # And it is nucleus sampling: a peaked row's pick lies inside its top-p set.
    probs = torch.softmax(peaked / settings.temperature, dim=-1)
    for row, tok in enumerate(alone_peaked.tolist()):
        p, ids = torch.sort(probs[row], descending=True)
        keep = ids[(p.cumsum(0) - p) < settings.top_p]
        assert tok in keep.tolist()
