"""The other side of the annotation race in tests/test_annotations.py: a spawned process that
takes one action on an annotation per round, released together with its twin by a barrier
(the same arrangement as tests/race_worker.py, with annotation actions)."""

from __future__ import annotations

from typing import Any

from race_worker import serve
from sqlalchemy.engine import Engine
from sqlmodel import select

from review.db import session_scope
from review.models import User


def perform(engine: Engine, action: str, args: dict[str, Any]) -> str:
    """Run one annotation action in its own unit of work."""
    from review import annotations

    with session_scope(engine) as s:
        who = s.exec(select(User).where(User.username == args["user"])).one()
        seen = args.get("expected_state")
        if action == "resolve":
            annotations.resolve(s, who, args["annotation"], note="Settled.", expected_state=seen)
        elif action == "reopen":
            annotations.reopen(s, who, args["annotation"], comment="Still not right.", expected_state=seen)
        elif action == "reply":
            annotations.reply(s, who, args["annotation"], text="Here is why.", expected_state=seen)
        else:  # pragma: no cover - a typo in the test
            raise ValueError(action)
    return "ok"


def racer(url: str, schema: str | None, barrier: Any, inbox: Any, outbox: Any) -> None:
    serve(perform, url, schema, barrier, inbox, outbox)
