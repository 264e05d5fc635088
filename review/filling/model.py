"""The real slot filler: a local causal LM run through transformers.

The work is split by concern: loading.py finds, fingerprints and loads the weights (and keeps
the converted-GGUF cache); decoding.py runs the batched decode loop; sampling.py makes the seeded
per-candidate picks. This module tokenizes prompts, batches them and keeps the one process-wide
filler per model.

The contract every part keeps: the same (prompt, seed, settings) gives the same candidates
whatever else is in the batch, so a resumed job and regenerate-verify reproduce a draft exactly.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from review.config import settings as app_settings

from .base import SlotFiller, check_args
from .decoding import Decoder, Encoded
from .loading import choose_device, choose_dtype, default_cache_dir, default_model_path, load_model
from .prompts import Prompt
from .settings import GenerationSettings

_TOKEN_CACHE_LIMIT = 50_000  # encoded prompts kept; a campaign has a few hundred distinct ones


class TransformersFiller(SlotFiller):
    """Slot filler backed by a local transformers causal LM (HF directory or .gguf file)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        cache_dir: Path | None = None,
        batch_size: int | None = None,
    ) -> None:
        import torch

        self.source = Path(model_path).expanduser() if model_path is not None else default_model_path()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.device = choose_device(device)
        self.dtype = choose_dtype(self.device, dtype)
        # Rows (prompt x candidate) per forward pass. 64 is the measured CPU sweet spot; a GPU
        # has memory for far more.
        self.batch_size = int(batch_size or app_settings().batch_size or (256 if self.device.startswith("cuda") else 64))
        self.model_name = self.source.stem if self.source.is_file() else self.source.name
        self.last_stats: dict[str, float] = {}
        self._lock = threading.Lock()  # one generate at a time: torch already uses every core
        self._token_cache: dict[str, Encoded] = {}
        if self.device == "cpu":
            # All physical cores we are allowed on; more threads than cores only adds contention.
            with contextlib.suppress(AttributeError, OSError):
                torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        started = time.perf_counter()
        loaded = load_model(self.source, self.cache_dir, self.device, self.dtype)
        self.load_seconds = time.perf_counter() - started
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.fingerprint = loaded.fingerprint
        self.loaded_from_cache = loaded.from_cache
        self.eos_ids, self.pad_id = loaded.eos_ids, loaded.pad_id
        self.decoder = Decoder(self.model, self.pad_id, self.eos_ids, self.device)

    def _encode(self, prompt: Prompt) -> Encoded:
        """(head, tail) token ids. The head is everything before the final user turn: system,
        voice and few-shot examples, identical for every recipient of a slot, so it is prefilled
        once per batch. The split is a function of the prompt alone, so a prompt is computed the
        same way whatever it is batched with."""
        hit = self._token_cache.get(prompt.fingerprint)
        if hit is None:
            msgs = list(prompt.messages)
            full = self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
            head = self.tokenizer.apply_chat_template(msgs[:-1], tokenize=False) if len(msgs) > 1 else ""
            if not head or not full.startswith(head):  # unusual template: no sharing, still correct
                head = ""
            # The chat template already wrote the BOS/role tokens: don't let the tokenizer add more.
            head_ids = tuple(self.tokenizer(head, add_special_tokens=False)["input_ids"]) if head else ()
            tail_ids = list(self.tokenizer(full[len(head) :], add_special_tokens=False)["input_ids"])
            hit = (head_ids, tail_ids)
            if len(self._token_cache) > _TOKEN_CACHE_LIMIT:
                self._token_cache.clear()
            self._token_cache[prompt.fingerprint] = hit
        return hit

    def generate(self, prompts: Sequence[Prompt], *, seeds: Sequence[int], settings: GenerationSettings, greedy: bool = False) -> list[list[str]]:
        check_args(prompts, seeds)
        n = 1 if greedy else settings.n_candidates
        encoded = [self._encode(p) for p in prompts]
        # Same head together, then similar tail lengths, so little work goes to padding. Order
        # is a pure function of the inputs, and rows are independent, so results cannot change.
        order = sorted(range(len(prompts)), key=lambda i: (encoded[i][0], len(encoded[i][1]), i))
        per_batch = max(1, self.batch_size // n)
        results: list[list[str]] = [[] for _ in prompts]
        stats: dict[str, float] = {"generated_tokens": 0, "prompt_tokens": 0, "rows": 0}
        eos = set(self.eos_ids)
        with self._lock:
            for start in range(0, len(order), per_batch):
                chunk = order[start : start + per_batch]
                rows = self.decoder.run_batch([encoded[i] for i in chunk], [int(seeds[i]) for i in chunk], n, settings, greedy)
                texts = [self.tokenizer.decode([x for x in row if x not in eos], skip_special_tokens=True) for row in rows]
                for j, i in enumerate(chunk):
                    results[i] = texts[j * n : (j + 1) * n]
                stats["generated_tokens"] += sum(len(row) for row in rows)
                stats["prompt_tokens"] += sum(len(encoded[i][0]) + len(encoded[i][1]) for i in chunk)
                stats["rows"] += len(chunk) * n
        self.last_stats = stats
        return results


_fillers: dict[tuple[str, str], SlotFiller] = {}
_fillers_lock = threading.Lock()


def load_filler(model_path: str | Path | None = None) -> SlotFiller:
    """The process-wide filler for a model path: loaded once, then reused. With COUNTERSIGN_MODEL_URL
    set (and no other local model asked for), the inference server's filler (review.filling.remote)."""
    from .remote import load_remote_filler, remote_requested

    if remote_requested(model_path):
        return load_remote_filler()
    path = Path(model_path).expanduser() if model_path else default_model_path()
    key = (str(path.resolve()), str(default_cache_dir().resolve()))
    with _fillers_lock:  # held during load so two threads never load the same model twice
        filler = _fillers.get(key)
        if filler is None:
            filler = TransformersFiller(path)
            _fillers[key] = filler
        return filler
