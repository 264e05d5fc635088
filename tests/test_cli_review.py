"""The reviewer's commands (review/cli_review.py): approve shows what is signed before asking for
the password and signs exactly that; request-changes, reject and review-roles; every failure is
one line with a non-zero exit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import select

from review.cli import cli
from review.db import make_engine, migrate
from review.models import Approval, AuditEvent, Comment, Draft, Status, User
from review.routing import review_roles

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib leaves sys.path alone
from routing_helpers import SEQUENTIAL, brand_with, routed_world  # noqa: E402


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A database file the commands open themselves (this overrides conftest's in-memory engine)."""
    url = f"sqlite:///{tmp_path / 'cli-review.db'}"
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", url)
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def w(build_world, fake_filler, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Acme pharma with medical → legal → regulatory; rita medical, rob legal, vera regulatory; una none."""
    brand_with(tmp_path, monkeypatch, SEQUENTIAL)
    world = routed_world(build_world, fake_filler, {"rita": ["medical"], "rob": ["legal"], "vera": ["regulatory"]})
    world.uid = {u.username: u.id for u in (world.admin, world.marketer, world.reviewer, world.reviewer2, world.vera, world.una)}
    world.draft_id = world.draft.id
    world.session.close()
    return world


def run(*args: str, input: str | None = None, password: str | None = None):  # type: ignore[no-untyped-def]
    env = {"COUNTERSIGN_PASSWORD": password} if password else {}
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def draft(w) -> Draft:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    with Session(w.engine) as s:
        d = s.get(Draft, w.draft_id)
        assert d is not None
        return d


def approvals(w) -> list[Approval]:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    with Session(w.engine) as s:
        return list(s.exec(select(Approval).where(Approval.draft_id == w.draft_id).order_by(Approval.id)).all())


def test_approve_shows_the_text_and_hash_then_prompts_and_signs_that_hash(w) -> None:  # type: ignore[no-untyped-def]
    d = draft(w)
    out = run("approve", str(d.id), "--as", "rita", "--meaning", "2", "--ack", "all", input="rita-pass-1\n")
    assert out.exit_code == 0, out.output
    text = out.output
    for slot_text in d.slots.values():
        assert slot_text in text
    assert f"content hash (what your signature covers): {d.content_hash}" in text
    assert "review plan (sequential): medical → legal → regulatory" in text
    assert "you sign the medical step" in text
    # Everything was shown before the password was asked; the password itself is never echoed.
    assert text.index(d.content_hash) < text.index("Password (re-enter to sign)")
    assert "rita-pass-1" not in text
    assert f"draft {d.id} is in review" in text
    [a] = approvals(w)
    assert (a.step, a.manifest["content_hash"], a.full_name) == ("medical", d.content_hash, "Rita Reviewer")
    assert a.meaning == "Reviewed and approved: medical/legal/regulatory"


def test_three_reviewers_approve_the_three_steps_from_the_command_line(w) -> None:  # type: ignore[no-untyped-def]
    d = draft(w)
    assert run("approve", str(d.id), "--as", "rita", "--meaning", "1", "--ack", "all", password="rita-pass-1").exit_code == 0
    # rob's meaning is asked (a number), then his password.
    out = run("approve", str(d.id), "--as", "rob", "--ack", "all", input="2\nrob-pass-1\n")
    assert out.exit_code == 0, out.output
    assert "1. Approved for use" in out.output and "you sign the legal step" in out.output
    out = run("approve", str(d.id), "--as", "vera", "--meaning", "Approved for use", "--ack", "all", password="vera-pass-1")
    assert out.exit_code == 0, out.output
    assert f"draft {d.id} is approved" in out.output
    assert [a.step for a in approvals(w)] == ["medical", "legal", "regulatory"]
    assert draft(w).status == Status.APPROVED


def test_approve_says_what_the_draft_waits_for_before_asking_any_password(w) -> None:  # type: ignore[no-untyped-def]
    d = draft(w)
    out = run("approve", str(d.id), "--as", "rob", "--meaning", "1", "--ack", "all")
    assert out.exit_code == 1
    assert f"Error: draft {d.id} waits for the medical step; you hold legal" in out.output
    assert "Password" not in out.output and "Traceback" not in out.output
    out = run("approve", str(d.id), "--as", "una", "--meaning", "1", "--ack", "all")
    assert out.exit_code == 1 and "you hold no review role" in out.output
    out = run("approve", str(d.id), "--as", "rita", "--step", "legal", "--meaning", "1", "--ack", "all")
    assert out.exit_code == 1 and "the legal step of draft" in out.output and "needs the legal review role; you hold medical" in out.output
    out = run("approve", str(d.id), "--as", "nobody", "--meaning", "1")
    assert out.exit_code == 1 and "Wrong username or password" in out.output
    assert approvals(w) == []


def test_unacknowledged_warnings_and_a_bad_meaning_are_refused_before_the_password(w) -> None:  # type: ignore[no-untyped-def]
    d = draft(w)
    if d.warning_count:
        out = run("approve", str(d.id), "--as", "rita", "--meaning", "1")
        assert out.exit_code == 1 and "not acknowledged; read them above and pass --ack all" in out.output
    out = run("approve", str(d.id), "--as", "rita", "--ack", "nonsense@x")
    assert out.exit_code == 1 and "--ack nonsense@x: draft" in out.output
    out = run("approve", str(d.id), "--as", "rita", "--meaning", "9", "--ack", "all")
    assert out.exit_code == 1 and "--meaning must be one of the signature meanings" in out.output and "Password" not in out.output
    assert approvals(w) == []


def test_approve_never_signs_text_edited_after_it_was_shown(w, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The marketer edits the draft while the reviewer types the password: the signature is refused."""
    from sqlmodel import Session

    from review.workflow import edit_draft

    d = draft(w)
    real_prompt = click.prompt

    def prompt_then_edit(text: str, **kw):  # type: ignore[no-untyped-def]
        answer = real_prompt(text, **kw)
        if text.startswith("Password"):
            with Session(w.engine, expire_on_commit=False) as s:
                edit_draft(s, s.get(User, w.uid["maria"]), d.id, slots={next(iter(d.slots)): "A new text nobody has read yet."})
                s.commit()
        return answer

    monkeypatch.setattr(click, "prompt", prompt_then_edit)
    out = run("approve", str(d.id), "--as", "rita", "--meaning", "1", "--ack", "all", input="rita-pass-1\n")
    assert out.exit_code == 1
    assert f"draft {d.id} changed while you were reviewing it" in out.output
    assert approvals(w) == []


def test_a_wrong_password_is_refused_and_recorded(w) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    d = draft(w)
    out = run("approve", str(d.id), "--as", "rita", "--meaning", "1", "--ack", "all", input="not-it\n")
    assert out.exit_code == 1 and "Wrong username or password" in out.output
    with Session(w.engine) as s:
        refused = s.exec(select(AuditEvent).where(AuditEvent.action == "refused")).all()
    assert [(e.actor, e.after["attempted"]) for e in refused] == [("rita", "login")]
    assert approvals(w) == []


@pytest.mark.parametrize("command,status,said", [("request-changes", Status.NEEDS_CHANGES, "sent back for changes"), ("reject", Status.REJECTED, "rejected")])
def test_request_changes_and_reject_take_a_comment(w, command: str, status: str, said: str) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    d = draft(w)
    out = run(command, str(d.id), "--as", "maria", "--comment", "Too pushy.", password="maria-pass-1")
    assert out.exit_code == 1 and "needs the reviewer role" in out.output
    out = run(command, str(d.id), "--as", "rob", "--comment", "no", password="rob-pass-1")
    assert out.exit_code == 1 and "needs a comment saying why" in out.output
    out = run(command, str(d.id), "--as", "rob", "--comment", "The second sentence promises an outcome.", input="rob-pass-1\n")
    assert out.exit_code == 0, out.output
    assert f"draft {d.id} {said}" in out.output
    assert draft(w).status == status
    with Session(w.engine) as s:
        [c] = s.exec(select(Comment).where(Comment.draft_id == d.id)).all()
    assert c.text == "The second sentence promises an outcome." and c.user_id == w.uid["rob"]


def test_review_roles_are_shown_and_set_by_an_admin_only(w) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    out = run("review-roles", "rob", "--as", "admin", password="admin-pass-1")
    assert out.exit_code == 0 and out.output.strip().endswith("rob: legal")
    out = run("review-roles", "rob", "--set", "Legal, compliance", "--as", "admin", input="admin-pass-1\n")
    assert out.exit_code == 0, out.output
    assert out.output.strip().endswith("rob: compliance, legal")
    out = run("review-roles", "rob", "--set", "", "--as", "admin", password="admin-pass-1")
    assert out.exit_code == 0 and out.output.strip().endswith("rob: no review roles")
    out = run("review-roles", "rob", "--set", "medical", "--as", "rita", password="rita-pass-1")
    assert out.exit_code == 1 and "rita is a reviewer; this needs the admin role" in out.output
    out = run("review-roles", "ghost", "--set", "medical", "--as", "admin", password="admin-pass-1")
    assert out.exit_code == 1 and "no user 'ghost'" in out.output
    out = run("review-roles", "maria", "--set", "legal", "--as", "admin", password="admin-pass-1")
    assert out.exit_code == 1 and "only reviewers hold review roles" in out.output
    with Session(w.engine) as s:
        assert review_roles(s, w.uid["rob"]) == ()
        changes = s.exec(select(AuditEvent).where(AuditEvent.action == "review_roles_changed", AuditEvent.entity_id == str(w.uid["rob"]))).all()
        assert [(e.actor, e.after["review_roles"]) for e in changes][-2:] == [("admin", ["compliance", "legal"]), ("admin", [])]
