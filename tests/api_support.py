"""Helpers shared by the API and webhook tests: publish a campaign, make a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import select

from review.api_tokens import create_token
from review.campaigns import create_campaign
from review.export import publish
from review.filling import FakeFiller
from review.generation import generate_campaign
from review.models import Draft, Export, pk


def new_campaign(w: Any, name: str) -> int:
    camp = create_campaign(w.session, w.marketer, name=name, template_version_id=w.template_version_id, audience_id=w.audience_id)
    w.session.commit()
    return pk(camp)


def publish_campaign(w: Any, sign_all: Any, export_dir: Path, campaign_id: int | None = None) -> Export:
    """Generate (fake filler), have both reviewers sign every draft, publish: what an ESP pulls."""
    cid = campaign_id or w.campaign_id
    generate_campaign(w.engine, w.marketer, cid, FakeFiller())
    w.session.expire_all()
    sign_all(w, cid)
    exp = publish(w.session, w.marketer, cid, export_dir)
    w.session.commit()
    return exp


def make_token(w: Any, *scopes: str, brand: str | None = None, days: int | None = 30) -> str:
    made = create_token(w.session, w.admin, name=f"test {'+'.join(scopes)}", scopes=list(scopes), brand_slug=brand, expires_in_days=days)
    w.session.commit()
    return made.token


def drafts(w: Any, campaign_id: int) -> list[Draft]:
    w.session.expire_all()
    return list(w.session.exec(select(Draft).where(Draft.campaign_id == campaign_id).order_by(Draft.id)).all())  # type: ignore[arg-type]
