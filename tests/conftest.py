"""Shared fixtures: an engine per test (SQLite always, PostgreSQL when configured) and a
small world of users, a brand, a template, an audience and a campaign."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from review.db import make_engine, migrate

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("COUNTERSIGN_TEST_DATABASE_URL")
MODEL_CACHE = Path(__file__).parent.parent / "data" / "model-cache"
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the developer's ./data: every test gets its own folders."""
    monkeypatch.setenv("COUNTERSIGN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COUNTERSIGN_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(FIXTURES / "brands"))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(FIXTURES / "templates"))
    # Converting the GGUF takes ~15 s: every model test shares one converted copy.
    monkeypatch.setenv("COUNTERSIGN_MODEL_CACHE", os.environ.get("COUNTERSIGN_MODEL_CACHE") or str(MODEL_CACHE))
    monkeypatch.delenv("COUNTERSIGN_MODEL_URL", raising=False)  # nor the developer's inference server: tests that want one start it


def _pg_engine() -> Iterator[Engine]:
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "postgresql":
        gen = _pg_engine()
        eng = next(gen)
        migrate(eng)
        yield eng
        gen.close()
    else:
        eng = make_engine("sqlite://")
        migrate(eng)
        yield eng
        eng.dispose()


@pytest.fixture
def sqlite_engine() -> Iterator[Engine]:
    eng = make_engine("sqlite://")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@dataclass
class World:
    engine: Engine
    session: Session
    admin: object
    marketer: object
    reviewer: object
    reviewer2: object
    template_version_id: int
    audience_id: int
    campaign_id: int

    PASSWORDS = {"admin": "admin-pass-1", "maria": "maria-pass-1", "rita": "rita-pass-1", "rob": "rob-pass-1"}


def make_world(engine: Engine, session: Session) -> World:
    from review.audiences import import_audience
    from review.auth import create_user
    from review.brands import sync_brands
    from review.campaigns import create_campaign
    from review.models import Role
    from review.template_versions import save_template

    sync_brands(session)
    admin = create_user(session, None, username="admin", full_name="Ada Admin", role=Role.ADMIN, password=World.PASSWORDS["admin"])
    maria = create_user(session, admin, username="maria", full_name="Maria Marketer", role=Role.MARKETER, password=World.PASSWORDS["maria"])
    rita = create_user(session, admin, username="rita", full_name="Rita Reviewer", role=Role.REVIEWER, password=World.PASSWORDS["rita"])
    rob = create_user(session, admin, username="rob", full_name="Rob Reviewer", role=Role.REVIEWER, password=World.PASSWORDS["rob"])
    tv = save_template(session, maria, brand_slug="acme-pharma", source=(FIXTURES / "templates" / "acme-newsletter.j2").read_text())
    aud = import_audience(session, maria, name="Acme test audience", brand_slug="acme-pharma", data=(FIXTURES / "templates" / "audience.csv").read_bytes())
    camp = create_campaign(session, maria, name="Acme test campaign", template_version_id=tv.id, audience_id=aud.id)  # type: ignore[arg-type]
    session.commit()
    return World(engine, session, admin, maria, rita, rob, tv.id, aud.id, camp.id)  # type: ignore[arg-type]


@pytest.fixture
def world(engine: Engine, session: Session) -> World:
    return make_world(engine, session)


@pytest.fixture
def fake_filler():  # type: ignore[no-untyped-def]
    from review.filling import FakeFiller

    return FakeFiller()


@pytest.fixture
def build_world(engine: Engine, session: Session):  # type: ignore[no-untyped-def]
    """For tests that must change the environment (e.g. the guidelines folder) first."""
    return lambda: make_world(engine, session)


def _sign_all(w: World, campaign_id: int | None = None) -> None:
    """Submit every draft of the campaign and have both reviewers sign each (acme-pharma needs two)."""
    from sqlmodel import select

    from review.checks import warning_ids
    from review.models import Draft
    from review.workflow import SIGNATURE_MEANINGS, approve, submit_ready

    s = w.session
    camp = campaign_id or w.campaign_id
    submit_ready(s, w.marketer, camp)  # type: ignore[arg-type]
    for d in s.exec(select(Draft).where(Draft.campaign_id == camp)).all():
        for r in (w.reviewer, w.reviewer2):
            approve(
                s,
                r,  # type: ignore[arg-type]
                d.id,  # type: ignore[arg-type]
                password=w.PASSWORDS[r.username],  # type: ignore[attr-defined]
                meaning=SIGNATURE_MEANINGS[0],
                acknowledged=warning_ids(d.findings),
                expected_content_hash=d.content_hash,
            )
    s.commit()


@pytest.fixture
def sign_all():  # type: ignore[no-untyped-def]
    """`sign_all(world, campaign_id=None)`: submit and fully sign every draft of a campaign."""
    return _sign_all
