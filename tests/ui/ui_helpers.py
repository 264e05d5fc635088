"""Helpers the per-page AppTest files share (conftest holds the fixtures)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PASSWORDS = {"admin": "admin-demo-pass", "maria": "maria-demo-pass", "rita": "rita-demo-pass", "rob": "rob-demo-pass", "vera": "vera-demo-pass"}


def seed(engine: Engine) -> None:
    """The demo world: users, brand, templates, audience, a campaign whose drafts are in review."""
    from review.demo import seed_demo
    from review.filling import FakeFiller

    seed_demo(engine, filler=FakeFiller(), log=lambda _m: None)


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


def html_text(markup: str, *, skip: tuple[str, ...] = ("sup",)) -> str:
    """The text a browser shows for this HTML (entities decoded, <br> as a line break), leaving
    out the elements in `skip` (the message pane's finding numbers)."""
    from html.parser import HTMLParser

    class _Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self.skipping = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag == "br":
                self.parts.append("\n")
            elif tag in skip:
                self.skipping += 1

        def handle_endtag(self, tag: str) -> None:
            if tag in skip:
                self.skipping -= 1

        def handle_data(self, data: str) -> None:
            if not self.skipping:
                self.parts.append(data)

    p = _Text()
    p.feed(markup)
    p.close()
    return "".join(p.parts)
