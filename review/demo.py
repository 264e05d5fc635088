"""The demo: brands, users, templates, a 200-row audience and a campaign waiting for review."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .audiences import import_audience
from .auth import create_user
from .brands import brand_dirs, sync_brands
from .campaigns import create_campaign
from .config import settings
from .db import migrate
from .filling import SlotFiller
from .generation import generate_campaign
from .models import Audience, Campaign, Draft, Role, Status, TemplateVersion, User, Variant, pk, utcnow
from .profiles import set_email
from .routing import review_roles, set_review_roles
from .template_versions import save_template
from .workflow import submit_for_review

# Printed in the README. Demo only: change them before any real use.
DEMO_USERS = [
    ("admin", "Ada Admin", Role.ADMIN, "admin-demo-pass"),
    ("maria", "Maria Marketer", Role.MARKETER, "maria-demo-pass"),
    ("rita", "Rita Reviewer", Role.REVIEWER, "rita-demo-pass"),
    ("rob", "Rob Reviewer", Role.REVIEWER, "rob-demo-pass"),
    ("vera", "Vera Reviewer", Role.REVIEWER, "vera-demo-pass"),
]
# Review roles (review.routing) so every demo brand's steps have distinct signers: Vitalis
# Pharma's medical → legal → regulatory (rita, rob, vera), Northbank's compliance + legal (rita,
# rob); Harbor Mutual's one step takes any reviewer.
DEMO_REVIEW_ROLES = {"rita": ["medical", "compliance"], "rob": ["legal"], "vera": ["regulatory"]}
DEMO_AUDIENCE = "Harbor Mutual customers (demo)"
DEMO_CAMPAIGN = "Renewal reminders — demo"
DEMO_BRAND = "harbor-mutual"
DEMO_DUE_DAYS = 2  # the demo campaign's review is due this many days after seeding

FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Tom",
    "Zoë",
    "José",
    "Priya",
    "Liam",
    "Chloé",
    "Noah",
    "Fatima",
    "Oliver",
    "Mei",
    "Seán",
    "Olga",
    "Kwame",
    "Emma",
    "Jack",
    "Sofia",
    "Arjun",
]
LAST = ["Smith", "Jones", "Khan", "Williams", "O'Brien", "García", "Patel", "Brown", "Nowak", "Taylor", "Evans", "Chen", "Murphy", "Okafor", "Wilson"]
CITIES = ["Bristol", "Leeds", "Glasgow", "Cardiff"]
POLICIES = ["home", "motor", "travel"]
CHANNELS = ["email", "sms", "post"]
HEALTH = ["", "", "", "asthma", "diabetes", "pregnancy"]
DEBT = ["", "", "", "arrears", "debt management plan"]


def demo_audience_csv(rows: int = 200, seed: int = 7) -> str:
    """A deterministic audience. It carries sensitive columns on purpose, as a CRM export would:
    the import drops them (brand.yaml declares them sensitive), so they are never stored."""
    rng = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "id",
            "first_name",
            "last_name",
            "email",
            "city",
            "policy_type",
            "tenure_years",
            "preferred_channel",
            "health_condition",
            "debt_status",
            "personalization_consent",
        ]
    )
    for i in range(1, rows + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{i}@example.com".lower().replace("'", "").replace(" ", "")
        w.writerow(
            [
                f"C{i:05d}",
                first,
                last,
                email,
                rng.choice(CITIES),
                rng.choice(POLICIES),
                str(rng.randint(1, 5)),
                rng.choice(CHANNELS),
                rng.choice(HEALTH),
                rng.choice(DEBT),
                "yes" if rng.random() < 0.8 else "no",
            ]
        )
    return out.getvalue()


def seed_demo(engine: Engine, *, filler: SlotFiller | None = None, generate: bool = True, log: Callable[[str], None] = print) -> dict[str, int]:
    """Idempotent: running it twice changes nothing the second time."""
    migrate(engine)
    with Session(engine, expire_on_commit=False) as s:
        sync_brands(s)
        users = {u.username: u for u in s.exec(select(User)).all()}
        admin = users.get("admin")
        for username, full, role, pw in DEMO_USERS:
            if username not in users:
                users[username] = create_user(s, admin if username != "admin" else None, username=username, full_name=full, role=role, password=pw)
                admin = admin or users[username]
        for username, roles in DEMO_REVIEW_ROLES.items():  # roles an admin changed since are left alone
            if admin is not None and users[username].role == Role.REVIEWER and not review_roles(s, pk(users[username])):
                set_review_roles(s, admin, pk(users[username]), roles)
        for u in users.values():  # notifications need an address (example.com: nothing is delivered by accident)
            if u.email is None and admin is not None:
                set_email(s, admin, pk(u), f"{u.username}@example.com")
        s.commit()
        maria = users["maria"]
        root = settings().templates_dir
        versions: dict[str, TemplateVersion] = {}
        for bdir in brand_dirs(settings().guidelines_dir):
            for path in sorted((root / bdir.name).glob("*.j2")) if (root / bdir.name).is_dir() else []:
                versions[path.stem] = save_template(
                    s, maria, brand_slug=bdir.name, source=path.read_text(encoding="utf-8"), filename=str(Path("templates") / bdir.name / path.name)
                )
        s.commit()
        aud = s.exec(select(Audience).where(Audience.name == DEMO_AUDIENCE)).first()
        if aud is None:
            aud = import_audience(s, maria, name=DEMO_AUDIENCE, brand_slug=DEMO_BRAND, data=demo_audience_csv(), source="demo audience")
            s.commit()
        camp = s.exec(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).first()
        if camp is None:
            due = utcnow() + timedelta(days=DEMO_DUE_DAYS)
            camp = create_campaign(s, maria, name=DEMO_CAMPAIGN, template_version_id=pk(versions["renewal-reminder"]), audience_id=pk(aud), due_at=due)
            s.commit()
        log(f"demo: {len(users)} users, {len(versions)} templates, audience {aud.row_count} rows, campaign #{camp.id}")
    with Session(engine) as s:
        drafted = {v for v in s.exec(select(Draft.variant_id).where(Draft.campaign_id == camp.id)).all()}
        waiting = [v for v in s.exec(select(Variant.id).where(Variant.campaign_id == camp.id)).all() if v not in drafted]
    if generate and waiting:  # a second run finds every variant drafted: no model load, no new job
        if filler is None:
            from .filling import load_filler

            log("demo: loading the local model…")
            filler = load_filler(settings().model_path)
        result = generate_campaign(engine, maria, pk(camp), filler, on_progress=lambda p: log(f"demo: generated {p.done}/{p.total} variants"))
        log(f"demo: generation {result.status}, {result.done}/{result.total} variants")
        with Session(engine, expire_on_commit=False) as s:
            for d in s.exec(select(Draft).where(Draft.campaign_id == camp.id, Draft.status == Status.CHECKED, Draft.error_count == 0)).all():
                submit_for_review(s, maria, pk(d))
            s.commit()
    with Session(engine) as s:
        in_review = len(s.exec(select(Draft).where(Draft.status == Status.IN_REVIEW)).all())
    log(f"demo: {in_review} drafts waiting for review")
    return {"users": len(users), "templates": len(versions), "campaign_id": pk(camp), "in_review": in_review}
