"""AppTest fixtures: a demo database per test, the app, and helpers to log in and look around.

The demo is seeded once per session with the fake filler (no model), then each test gets
its own copy of the SQLite file, so tests never see each other's decisions.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib leaves sys.path alone
from ui_helpers import APP, ROOT, seed  # noqa: E402

from review.db import make_engine
from review.models import AuditEvent, Draft, User


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("uidb") / "seed.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COUNTERSIGN_GUIDELINES_DIR", str(ROOT / "brand_guidelines"))
        mp.setenv("COUNTERSIGN_TEMPLATES_DIR", str(ROOT / "templates"))
        mp.setenv("COUNTERSIGN_DATA_DIR", str(path.parent / "data"))
        engine = make_engine(f"sqlite:///{path}")
        seed(engine)
        engine.dispose()
    return path


@dataclass
class UIWorld:
    engine: Engine
    url: str
    path: Path

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def user(self, username: str) -> User:
        with self.session() as s:
            return s.exec(select(User).where(User.username == username)).one()

    def draft(self, draft_id: int) -> Draft:
        with self.session() as s:
            d = s.get(Draft, draft_id)
            assert d is not None
            return d

    def drafts(self, status: str | None = None) -> list[Draft]:
        with self.session() as s:
            q = select(Draft).order_by(Draft.id)  # type: ignore[arg-type]
            if status:
                q = q.where(Draft.status == status)
            return list(s.exec(q).all())

    def events(self, action: str) -> list[AuditEvent]:
        with self.session() as s:
            return list(s.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


@pytest.fixture
def world(seeded_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _isolated_settings: None) -> Iterator[UIWorld]:
    path = tmp_path / "countersign.db"
    shutil.copy(seeded_db, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", url)
    monkeypatch.setenv("COUNTERSIGN_FILLER", "fake")
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(ROOT / "brand_guidelines"))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(ROOT / "templates"))
    # The copy carries the seed's audit trail: it needs the key that trail was written with.
    monkeypatch.setenv("COUNTERSIGN_AUDIT_KEY_FILE", str(seeded_db.parent / "data" / "audit.key"))
    engine = make_engine(url)
    yield UIWorld(engine, url, path)
    engine.dispose()


@pytest.fixture
def app(world: UIWorld) -> Callable[..., AppTest]:
    """`app("rita")` → an AppTest logged in as rita (None: logged out), already run once."""

    from streamlit import config as st_config

    st_config.set_option("client.showErrorDetails", "full")  # tests want the real error

    def make(username: str | None = None, *, page: str | None = None, query: dict[str, Any] | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        if username is not None:
            at.session_state["user_id"] = world.user(username).id
        at.run()
        assert not at.exception, at.exception
        if page is not None:
            for k, v in (query or {}).items():
                at.query_params[k] = v
            at.switch_page(page).run()
            assert not at.exception, at.exception
        return at

    return make
