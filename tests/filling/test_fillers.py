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


@pytest.mark.model
def test_gguf_is_converted_once_into_a_plain_cache(real_filler: TransformersFiller, welcome_slot: SlotSpec, tmp_path: Path) -> None:
    """A cold cache: the GGUF is dequantized and saved as a plain HF directory that the next load
    reads, and the converted weights write the same text as the shared cache's."""
    first = TransformersFiller(cache_dir=tmp_path, batch_size=4)
    assert not first.loaded_from_cache  # converted by this load (and served from what it wrote)
    (converted,) = [p for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert (converted / "countersign.json").exists() and (converted / "model.safetensors").exists()
    assert "quantization_config" not in (converted / "config.json").read_text()
    second = TransformersFiller(cache_dir=tmp_path, batch_size=4)
    assert second.loaded_from_cache and second.fingerprint == first.fingerprint == real_filler.fingerprint
    prompt, settings = build_prompt(welcome_slot, {"city": "York"}), GenerationSettings(max_new_tokens=12)
    want = real_filler.generate([prompt], seeds=[0], settings=settings, greedy=True)
    assert second.generate([prompt], seeds=[0], settings=settings, greedy=True) == want


@pytest.fixture(scope="module")
def tiny_filler(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TransformersFiller:
    return TransformersFiller(tiny_model_dir, cache_dir=tmp_path_factory.mktemp("cache"), batch_size=8)


def test_any_local_hf_model_directory_works_through_the_setting(tiny_model_dir: Path, welcome_slot: SlotSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_MODEL_PATH", str(tiny_model_dir))
    filler = load_filler()
    assert isinstance(filler, TransformersFiller) and load_filler() is filler  # loaded once per path
    assert filler.model_name == tiny_model_dir.name and len(filler.fingerprint) == 64
    assert filler.device == "cpu" and not filler.loaded_from_cache  # a directory needs no conversion
    out = filler.generate([build_prompt(welcome_slot, {"city": "York"})], seeds=[5], settings=GenerationSettings(n_candidates=3, max_new_tokens=6))
    assert len(out) == 1 and len(out[0]) == 3 and all(isinstance(t, str) for t in out[0])
    assert filler.last_stats["rows"] == 3 and 3 <= filler.last_stats["generated_tokens"] <= 18


def test_same_seed_same_candidates_whatever_the_batch(tiny_filler: TransformersFiller, welcome_slot: SlotSpec, tip_slot: SlotSpec) -> None:
    """The resume / regenerate-verify contract, on a model small enough for every run: a prompt's
    candidates do not depend on the prompts batched with it, nor on the batch size."""
    settings = GenerationSettings(n_candidates=3, max_new_tokens=10)
    target = build_prompt(welcome_slot, {"city": "York"}, "Warm.")
    others = [build_prompt(welcome_slot, {"city": c}, "Warm.") for c in ("Kingston upon Hull", "Ely")]
    others.append(build_prompt(tip_slot, {"policy_type": "motor"}, "Warm."))  # another head: head padding
    alone = tiny_filler.generate([target], seeds=[11], settings=settings)[0]
    mixed = tiny_filler.generate([others[0], target, *others[1:]], seeds=[1, 11, 2, 3], settings=settings)[1]
    tiny_filler.batch_size = 3  # one prompt per batch
    try:
        split = tiny_filler.generate([others[2], target], seeds=[3, 11], settings=settings)[1]
    finally:
        tiny_filler.batch_size = 8
    assert alone == mixed == split
    assert len(set(alone)) > 1  # the candidates are different draws
    assert tiny_filler.generate([target], seeds=[12], settings=settings)[0] != alone


def test_batched_decoding_matches_the_model_run_one_sequence_at_a_time(tiny_filler: TransformersFiller, welcome_slot: SlotSpec, tip_slot: SlotSpec) -> None:
    """The static cache, the padding between head and tail and the positions give the tokens
    a plain forward pass over each whole sequence (no cache, no padding) picks."""
    import torch

    settings = GenerationSettings(max_new_tokens=8, repetition_penalty=1.0)
    prompts = [build_prompt(welcome_slot, {"city": c}, "Warm.") for c in ("Kingston upon Hull", "Ely")]
    prompts.append(build_prompt(tip_slot, {"policy_type": "pet"}))
    encoded = [tiny_filler._encode(p) for p in prompts]
    assert len({len(h) for h, _ in encoded}) > 1 and len({len(t) for _, t in encoded}) > 1  # both kinds of padding occur
    got = tiny_filler.decoder.run_batch(encoded, [0, 0, 0], 1, settings, greedy=True)
    eos = set(tiny_filler.eos_ids)
    for (head, tail), row in zip(encoded, got, strict=True):
        seq, want = [*head, *tail], []
        with torch.inference_mode():
            while len(want) < settings.max_new_tokens and not (want and want[-1] in eos):
                logits = tiny_filler.model(input_ids=torch.tensor([seq])).logits[0, -1]
                want.append(int(logits.argmax()))
                seq.append(want[-1])
        assert row == want


def test_cuda_is_used_when_present_and_never_required(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from review.filling.loading import choose_device, choose_dtype

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device() == "cpu" and choose_dtype("cpu") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_device() == "cuda" and choose_dtype("cuda") == torch.bfloat16
    assert choose_device("cpu") == "cpu"  # an explicit device wins
    with pytest.raises(ModelLoadError, match="float32"):
        choose_dtype("cpu", "int3")


def test_nucleus_sampling_of_a_row_ignores_its_batch_mates() -> None:
    """A peaked row (top-512 suffices) and a flat row (full sort) pick the same alone as together."""
    import torch

    from review.filling.sampling import pick

    settings = GenerationSettings()
    gen = torch.Generator().manual_seed(1)
    peaked = torch.randn(3, 49152, generator=gen) * 12
    flat = torch.randn(2, 49152, generator=gen) * 0.1  # top-512 mass far below top_p
    uniforms = torch.rand(5, generator=gen, dtype=torch.float64)
    history = torch.zeros((5, 0), dtype=torch.long)
    together = pick(torch.cat([peaked, flat]), history, uniforms, settings, False)
    alone_peaked = pick(peaked, history[:3], uniforms[:3], settings, False)
    alone_flat = pick(flat, history[3:], uniforms[3:], settings, False)
    assert together.tolist() == alone_peaked.tolist() + alone_flat.tolist()
    # And it is nucleus sampling: a peaked row's pick lies inside its top-p set.
    probs = torch.softmax(peaked / settings.temperature, dim=-1)
    for row, tok in enumerate(alone_peaked.tolist()):
        p, ids = torch.sort(probs[row], descending=True)
        keep = ids[(p.cumsum(0) - p) < settings.top_p]
        assert tok in keep.tolist()


def test_a_transformers_deprecation_fails_the_test_run() -> None:
    """pyproject's filterwarnings turn transformers' deprecations into errors, including the ones a
    model's forward raises for a renamed argument (attributed to torch's Module.__call__)."""
    import torch
    from transformers.utils.deprecation import deprecate_kwarg

    class Renamed(torch.nn.Module):
        @deprecate_kwarg("old", version="99.0", new_name="new")
        def forward(self, new: int = 0) -> int:
            return new

    assert Renamed()(new=1) == 1
    with pytest.raises(FutureWarning, match="`old` is deprecated"):
        Renamed()(old=1)


def test_too_old_transformers_is_one_clear_error(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    monkeypatch.setattr(transformers, "__version__", "5.23.0")
    with pytest.raises(ModelLoadError, match=r"transformers 5\.23\.0 is too old; install transformers>=5\.24"):
        TransformersFiller(tiny_model_dir, cache_dir=tmp_path)
