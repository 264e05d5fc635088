"""Helpers the per-page AppTest files share (conftest holds the fixtures)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from review.models import Draft, Status, User

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PASSWORDS = {"admin": "admin-demo-pass", "maria": "maria-demo-pass", "rita": "rita-demo-pass", "rob": "rob-demo-pass"}


def seed(engine: Engine) -> None:
    """The demo world: users, brand, templates, audience, a campaign whose drafts are in review."""
    from review.demo import DEMO_CAMPAIGN, seed_demo
    from review.filling import FakeFiller
    from review.generation import generate_campaign
    from review.models import Campaign
    from review.workflow import submit_for_review

    try:
        seed_demo(engine, filler=FakeFiller(), log=lambda _m: None)
        return
    except Exception:  # pragma: no cover - a seed_demo bug must not hide every UI test
        pass
    # Fallback: the same steps, each with objects loaded in the session that uses them.
    seed_demo(engine, filler=FakeFiller(), generate=False, log=lambda _m: None)
    with Session(engine, expire_on_commit=False) as s:
        maria = s.exec(select(User).where(User.username == "maria")).one()
        camp = s.exec(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
    generate_campaign(engine, maria, camp.id, FakeFiller())  # type: ignore[arg-type]
    with Session(engine, expire_on_commit=False) as s:
        maria = s.exec(select(User).where(User.username == "maria")).one()
        for d in s.exec(select(Draft).where(Draft.campaign_id == camp.id, Draft.status == Status.CHECKED, Draft.error_count == 0)).all():
            submit_for_review(s, maria, d.id)  # type: ignore[arg-type]
        s.commit()


def texts(at: AppTest) -> str:
    """Every visible text of the last run, joined (for `in` assertions)."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "success", "info", "warning", "error", "code", "metric"):
        for el in at.get(kind):
            parts.append(str(getattr(el, "value", "")))
            parts.append(str(getattr(el, "label", "")))
    return "\n".join(parts)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]
