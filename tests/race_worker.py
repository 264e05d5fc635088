"""The other side of tests/test_races.py: a process that performs one workflow action per
round, released together with its twin by a barrier.

Lives in its own module so `spawn` can import it in a fresh interpreter: each racer has its
own engine, connections and identity map, exactly like two app replicas or two CLI runs.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import select

from review.db import make_engine, session_scope
from review.errors import CountersignError
from review.models import User

PASSWORDS = {"admin": "admin-pass-1", "maria": "maria-pass-1", "rita": "rita-pass-1", "rob": "rob-pass-1", "vera": "vera-pass-1"}


def connect(url: str, schema: str | None) -> Engine:
    if schema:
        return create_engine(url, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True)
    return make_engine(url)


def _user(s: Any, name: str) -> User:
    return s.exec(select(User).where(User.username == name)).one()


def perform(engine: Engine, action: str, args: dict[str, Any]) -> str:
    """Run one action in its own unit of work; return a short outcome text."""
    from review import export, generation, workflow
    from review.filling import FakeFiller

    with session_scope(engine) as s:
        who = _user(s, args["user"])
        if action == "approve":
            workflow.approve(
                s,
                who,
                args["draft"],
                password=PASSWORDS[who.username],
                meaning=workflow.SIGNATURE_MEANINGS[0],
                expected_content_hash=args["hash"],
                step=args.get("step"),
            )
        elif action == "reject":
            workflow.reject(s, who, args["draft"], comment="Not for this audience.")
        elif action == "request_changes":
            workflow.request_changes(s, who, args["draft"], comment="Please soften the greeting.")
        elif action == "edit":
            workflow.edit_draft(s, who, args["draft"], slots={args["slot"]: args["text"]}, expected_revision=args["revision"])
        elif action == "publish":
            export.publish(s, who, args["campaign"], args["export_dir"])
        elif action == "remind":
            from datetime import datetime

            from review.reminders import remind

            report = remind(s, now=datetime.fromisoformat(args["now"]))
            return f"ok {report.reminded} already {report.already}"
        elif action == "assign":
            from review.assignments import assign

            assign(s, who, args["draft"], step=args.get("step", "review"), to_user_id=_user(s, args["to"]).id)  # type: ignore[arg-type]
        elif action == "sso_sign_in":  # a company account's first sign-in, from two tabs or replicas
            from review.sso import sign_in

            return f"ok {sign_in(s, args['claims']).username}"
        elif action == "generate":
            pass
        else:  # pragma: no cover - a typo in the test
            raise ValueError(action)
    if action == "generate":
        with session_scope(engine) as s:
            who = _user(s, args["user"])
        generation.generate_campaign(engine, who, args["campaign"], FakeFiller())
    return "ok"


def racer(url: str, schema: str | None, barrier: Any, inbox: Any, outbox: Any) -> None:
    serve(perform, url, schema, barrier, inbox, outbox)


def serve(run: Callable[[Engine, str, dict[str, Any]], Any], url: str, schema: str | None, barrier: Any, inbox: Any, outbox: Any) -> None:
    """Take jobs until None: wait at the barrier with the twin, `run` the job, report its outcome
    (a domain error's type and message, or CRASH with the traceback)."""
    engine = connect(url, schema)
    while True:
        job = inbox.get()
        if job is None:
            break
        action, args = job
        try:
            barrier.wait(timeout=60)
        except Exception:  # noqa: BLE001 - the parent reports the broken round
            outbox.put(("CRASH", "barrier broken"))
            continue
        try:
            outbox.put(("ok", run(engine, action, args)))
        except CountersignError as e:
            outbox.put((type(e).__name__, str(e)))
        except Exception as e:  # noqa: BLE001 - a traceback is exactly what the test must catch
            outbox.put(("CRASH", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
    engine.dispose()
