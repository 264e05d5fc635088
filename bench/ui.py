"""Page speed with 10,000 drafts, against the same pages with 50 drafts.

Seeds two temp SQLite databases (bulk inserts, a few seconds), then times, in this process:
  * `review_queue` alone (the SQL: sort by risk and age, one page of 50), and
  * four whole pages, each an AppTest run of app.py (login check, navigation, the page):
    - queue: rita's review queue (filters, the query, the table, the bulk-approve check),
    - draft: rita on the riskiest draft in review (message, findings, history, sign form,
      next/previous among the campaign's 10,000 drafts),
    - campaigns: maria on the campaign holding every draft (its drafts table),
    - templates: maria on the templates page (list, builder, preview).
Prints medians and the ratio 10k / 50. Target: each page under 300 ms server time with 10k drafts.
No assertion: a benchmark reports, CI decides.

    .venv/bin/python bench/ui.py [--drafts 10000] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("COUNTERSIGN_FILLER", "fake")


def seed(url: str, drafts: int) -> int:
    """A demo world plus `drafts` drafts in one campaign; returns rita's user id."""
    from sqlalchemy import insert
    from sqlmodel import Session, select

    from review.db import make_engine
    from review.demo import DEMO_CAMPAIGN, seed_demo
    from review.models import Approval, Campaign, Draft, Recipient, Status, User, Variant, utcnow

    engine = make_engine(url)
    seed_demo(engine, generate=False, log=lambda _m: None)
    rng = random.Random(42)
    now = utcnow()
    with Session(engine) as s:
        camp = s.exec(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
        maria = s.exec(select(User).where(User.username == "maria")).one()
        rita = s.exec(select(User).where(User.username == "rita")).one()
        rid = s.exec(select(Recipient.id)).first()
        camp_id, maria_id, rita_id = camp.id, maria.id, rita.id
        s.execute(
            insert(Variant),
            [
                {
                    "campaign_id": camp_id,
                    "key": f"bench-{i}",
                    "label": f"tenure_years={i % 9}, policy_type=home #{i}",
                    "inputs": {},
                    "personalized": True,
                    "recipient_count": rng.randint(1, 40),
                    "sample_recipient_id": rid,
                }
                for i in range(drafts)
            ],
        )
        vids = s.exec(select(Variant.id).where(Variant.campaign_id == camp_id, Variant.key.like("bench-%")).order_by(Variant.id)).all()  # type: ignore[attr-defined]
        statuses = [Status.IN_REVIEW] * 6 + [Status.APPROVED, Status.NEEDS_CHANGES, Status.CHECKED, Status.REJECTED]
        rows = []
        for i, vid in enumerate(vids):
            errors, warnings = rng.choice([0] * 8 + [1, 2]), rng.choice([0] * 5 + [1, 2, 3])
            findings = [
                {"rule": f"bench.rule{j % 7}", "level": "warning", "message": "m", "match": "x", "span": [0, 1], "scope": "slot", "slot": "opening"}
                for j in range(warnings)
            ]
            rows.append({
                "campaign_id": camp_id, "variant_id": vid, "status": statuses[i % len(statuses)] if not errors else Status.CHECKED, "revision": 1,
                "slots": {"opening": "Thank you for being with us.", "tip": "Keep your documents handy."}, "slot_meta": {}, "findings": findings,
                "error_count": errors, "warning_count": warnings, "fallback_count": rng.choice([0] * 9 + [1]), "content_hash": f"{i:064x}",
                "model_fingerprint": "bench", "seed": i, "settings": {}, "prompt_fingerprint": "", "author_id": maria_id,
                "created_at": now - timedelta(minutes=i), "updated_at": now - timedelta(minutes=rng.randint(0, 60 * 24 * 14)),
            })  # fmt: skip
        s.execute(insert(Draft), rows)
        approved = s.exec(select(Draft.id).where(Draft.status == Status.IN_REVIEW).limit(drafts // 20)).all()
        s.execute(
            insert(Approval),
            [
                {
                    "draft_id": d,
                    "revision": 1,
                    "reviewer_id": rita_id,
                    "full_name": "Rita Reviewer",
                    "meaning": "Approved for use",
                    "signed_at": now,
                    "manifest": {},
                    "manifest_hash": "0" * 64,
                    "acknowledged": [],
                    "valid": True,
                }
                for d in approved
            ],
        )
        s.commit()
    engine.dispose()
    return int(rita_id)  # type: ignore[arg-type]


def median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm: caches, first connection
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


PAGES = ("queue", "draft", "campaigns", "templates")


def _page_app(page: str, user_id: int, query: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """An AppTest of app.py logged in as `user_id`, switched to `page` and run once."""
    import logging

    from streamlit.testing.v1 import AppTest

    # Setting query parameters outside a script run warns once per call; nothing is wrong.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["user_id"] = user_id
    at.run()
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(f"ui/pages/{page}.py").run()
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    return at


def measure(url: str, runs: int) -> tuple[float, dict[str, float], int]:
    """Median ms of `review_queue`, and of one run of each page in PAGES; the queue's size."""
    from sqlmodel import Session, select
    from streamlit import config as st_config

    from review.db import make_engine
    from review.models import Draft, Status, User
    from review.queue import QueueFilter, review_queue

    os.environ["COUNTERSIGN_DATABASE_URL"] = url
    engine = make_engine(url)

    def query() -> None:
        with Session(engine) as s:
            review_queue(s, QueueFilter(), page=1, page_size=50)

    with Session(engine) as s:
        total = review_queue(s, QueueFilter(), page=1, page_size=50).total
        users = {u.username: int(u.id) for u in s.exec(select(User)).all()}  # type: ignore[arg-type]
        # The riskiest draft in review: the one a reviewer opens first (findings, a full campaign of siblings).
        draft_id = s.exec(select(Draft.id).where(Draft.status == Status.IN_REVIEW).order_by(Draft.warning_count.desc(), Draft.id)).first()  # type: ignore[attr-defined]
    q = median_ms(query, runs)
    st_config.set_option("client.showErrorDetails", "full")

    def checked(at, check):  # type: ignore[no-untyped-def]
        def run() -> None:
            at.run()
            if at.exception:
                raise RuntimeError(at.exception[0].message)
            check(at)

        return run

    apps = {
        # rita's queue: one full page of 50 pending drafts.
        "queue": (
            _page_app("queue", users["rita"]),
            lambda at: at.title[0].value == "Review queue" and len(at.dataframe[0].value) == min(50, total) or _fail(at, "queue"),
        ),
        # rita on that draft: message, findings, history, the sign form, next/previous among its campaign.
        "draft": (
            _page_app("draft", users["rita"], {"draft": str(draft_id)}),
            lambda at: at.title[0].value == f"Draft #{draft_id}" or _fail(at, "draft"),
        ),
        # maria on the campaigns page: the campaign holding every draft, its drafts table.
        "campaigns": (
            _page_app("campaigns", users["maria"]),
            lambda at: at.title[0].value == "Campaigns" or _fail(at, "campaigns"),
        ),
        # maria on the templates page: the list, the builder for a new template, the preview.
        "templates": (
            _page_app("templates", users["maria"]),
            lambda at: at.title[0].value == "Templates" or _fail(at, "templates"),
        ),
    }
    pages = {name: median_ms(checked(at, check), runs) for name, (at, check) in apps.items()}
    engine.dispose()
    return q, pages, total


def _fail(at, page: str) -> bool:  # type: ignore[no-untyped-def]
    raise RuntimeError(f"the {page} page did not show what it should: {[t.value for t in at.title]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--drafts", type=int, default=10_000)
    ap.add_argument("--baseline", type=int, default=50)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COUNTERSIGN_DATA_DIR"] = str(Path(tmp) / "data")
        t0 = time.perf_counter()
        big_url, small_url = f"sqlite:///{tmp}/big.db", f"sqlite:///{tmp}/small.db"
        seed(big_url, args.drafts)
        seed(small_url, args.baseline)
        print(f"seeded {args.drafts} and {args.baseline} drafts in {time.perf_counter() - t0:.1f} s")
        base_q, base_p, base_n = measure(small_url, args.runs)
        big_q, big_p, big_n = measure(big_url, args.runs)
    print(f"{'':30}{f'{args.baseline} drafts':>12}{f'{args.drafts} drafts':>14}{'ratio':>8}")
    print(f"{'pending drafts in queue':30}{base_n:>12}{big_n:>14}")
    print(f"{'review_queue (median ms)':30}{base_q:>12.1f}{big_q:>14.1f}{big_q / base_q:>8.2f}")
    for name in PAGES:
        print(f"{name + ' page run (median ms)':30}{base_p[name]:>12.1f}{big_p[name]:>14.1f}{big_p[name] / base_p[name]:>8.2f}")
    slow = [f"{name} ({big_p[name]:.0f} ms)" for name in PAGES if big_p[name] >= 300]
    print(f"target: each page < 300 ms with {args.drafts} drafts -> {'OK' if not slow else 'SLOW: ' + ', '.join(slow)}")


if __name__ == "__main__":
    main()
