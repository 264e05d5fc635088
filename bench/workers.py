"""Team-mode benchmark: campaign throughput with 1 and 2 `python -m review worker` processes, and
the queue's overhead per chunk against the in-process path, measured in one run.

Run:  .venv/bin/python bench/workers.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/mydb
      [--groups 48] [--chunk 8] [--cost 0.1] [--model]

Each measurement drafts a campaign of its own (distinct audience groups, so no fill is served
from another's cache) in a fresh PostgreSQL schema that is dropped afterwards. By default the
fake filler spends a fixed `--cost` seconds per prompt (about one prompt per group here), so the
numbers measure the queue rather than the model; `--model` uses the real model in every path.
Worker start-up (imports, model load) is outside the timings: workers are started, idle on the
queue, then the job is queued. Numbers are printed, never asserted; ratios are within this run.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures"


def audience_csv(prefix: str, groups: int) -> bytes:
    rows = ["id,first_name,city,age_band,personalization_consent"] + [f"R{i},Sam,{prefix} Town {i},35-54,yes" for i in range(1, groups + 1)]
    return ("\n".join(rows) + "\n").encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--database-url",
        default=os.environ.get("COUNTERSIGN_TEST_DATABASE_URL"),
        help="a PostgreSQL database of your own (default: COUNTERSIGN_TEST_DATABASE_URL)",
    )
    ap.add_argument("--groups", type=int, default=48, help="audience groups (variants) per campaign")
    ap.add_argument("--chunk", type=int, default=8, help="variants per queued chunk (COUNTERSIGN_WORKER_CHUNK)")
    ap.add_argument("--cost", type=float, default=0.1, help="fake filler seconds per prompt")
    ap.add_argument("--model", action="store_true", help="use the real model instead of the paced fake filler")
    args = ap.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        print("bench/workers.py needs PostgreSQL: pass --database-url or set COUNTERSIGN_TEST_DATABASE_URL; skipped")
        return

    tmp = Path(tempfile.mkdtemp(prefix="countersign-bench-workers-"))
    schema = f"bw_{uuid.uuid4().hex[:10]}"
    url = f"{args.database_url}{'&' if '?' in args.database_url else '?'}options=-csearch_path%3D{schema}"
    env = {
        "COUNTERSIGN_DATA_DIR": str(tmp / "data"),
        "COUNTERSIGN_GUIDELINES_DIR": str(FIXTURES / "brands"),
        "COUNTERSIGN_TEMPLATES_DIR": str(FIXTURES / "templates"),
        "COUNTERSIGN_DATABASE_URL": url,
        "COUNTERSIGN_QUEUE": "procrastinate",
        "COUNTERSIGN_WORKER_CHUNK": str(args.chunk),
        "COUNTERSIGN_WORKER_POLL_SECONDS": "1",
        "COUNTERSIGN_FILLER": "model" if args.model else "fake",
        "COUNTERSIGN_FAKE_FILLER_SECONDS": "0" if args.model else str(args.cost),
    }
    os.environ.update(env)  # before review reads its settings

    from sqlalchemy import create_engine, text
    from sqlmodel import Session

    from review.audiences import import_audience
    from review.auth import create_user
    from review.brands import sync_brands
    from review.campaigns import create_campaign
    from review.config import settings
    from review.db import migrate, session_scope
    from review.generation import generate_campaign, progress
    from review.generation.queue_jobs import start_generation, worker_filler
    from review.models import JobStatus, Role
    from review.template_versions import save_template

    admin_engine = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(args.database_url, connect_args={"options": f"-csearch_path={schema}"})
    procs: list[subprocess.Popen[bytes]] = []
    try:
        migrate(engine)
        with Session(engine, expire_on_commit=False) as s:
            sync_brands(s)
            admin = create_user(s, None, username="admin", full_name="Ada Admin", role=Role.ADMIN, password="admin-pass-1")
            maria = create_user(s, admin, username="maria", full_name="Maria Marketer", role=Role.MARKETER, password="maria-pass-1")
            tv = save_template(s, maria, brand_slug="acme-pharma", source=(FIXTURES / "templates" / "acme-newsletter.j2").read_text())
            camps = {}
            for name in ("inprocess", "1 worker", "2 workers"):
                aud = import_audience(
                    s, maria, name=f"bench {name}", brand_slug="acme-pharma", data=audience_csv(name.replace(" ", "")[:6].title(), args.groups)
                )
                camps[name] = create_campaign(s, maria, name=f"bench {name}", template_version_id=tv.id, audience_id=aud.id).id  # type: ignore[arg-type]
            s.commit()
        chunks = -(-args.groups // args.chunk)
        filler = worker_filler(settings())
        print(
            f"{args.groups} audience groups per campaign, chunks of {args.chunk} ({chunks} chunks), filler: {filler.model_name}"
            + ("" if args.model else f" paced at {args.cost} s/prompt")
        )

        start = time.perf_counter()
        generate_campaign(engine, maria, camps["inprocess"], filler, batch_variants=args.chunk, first_batch=args.chunk)
        results = {"inprocess": time.perf_counter() - start}

        def start_worker(i: int) -> None:
            log = tmp / f"worker-{i}.log"
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "review", "worker", "--name", f"bench{i}"], cwd=ROOT, env={**os.environ}, stdout=out, stderr=subprocess.STDOUT
                    )
                )
            while "Starting worker" not in log.read_text(errors="replace"):
                if procs[-1].poll() is not None:
                    raise SystemExit(f"worker {i} exited:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)

        for name, n_workers in (("1 worker", 1), ("2 workers", 2)):
            while len(procs) < n_workers:
                start_worker(len(procs))
            start = time.perf_counter()
            with session_scope(engine) as s:
                job_id = start_generation(s, s.merge(maria), camps[name]).id
            assert job_id is not None
            while True:
                with Session(engine) as s:
                    p = progress(s, job_id)
                if p.status not in JobStatus.ACTIVE:
                    break
                time.sleep(0.05)
            results[name] = time.perf_counter() - start
            if p.status != JobStatus.DONE or p.done != args.groups:
                raise SystemExit(f"{name}: job ended {p.status} with {p.done}/{args.groups}: {p.error}")

        base = results["inprocess"]
        print(f"{'path':<12} {'seconds':>8} {'groups/s':>9} {'vs in-process':>14}")
        for name, secs in results.items():
            print(f"{name:<12} {secs:8.2f} {args.groups / secs:9.2f} {base / secs:13.2f}x")
        print(f"2 workers vs 1 worker: {results['1 worker'] / results['2 workers']:.2f}x throughput")
        print(f"queue overhead per chunk (1 worker vs in-process, same chunk size): {(results['1 worker'] - base) / chunks * 1000:.0f} ms")
        taken = sum(len(re.findall(r"chunk \d+: taken", (tmp / f"worker-{i}.log").read_text(errors="replace"))) for i in range(len(procs)))
        print(f"chunks run by workers: {taken} (expected {2 * chunks})")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        engine.dispose()
        with admin_engine.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
