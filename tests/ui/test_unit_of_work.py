"""ui.common.call, the pages' one way into the domain: one unit of work per call (review.db.
session_scope), results that read the same after their session closed, and a domain error
turned into a message, with a security refusal on record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from review import views, workflow
from review.auth import authenticate
from review.errors import NotFound, PermissionDenied
from review.models import Status


def _complete(row: Any) -> None:
    """A row handed to a page: detached from its closed session, every column loaded, none
    expired, so reading it can never go back to the database."""
    state = inspect(row)
    assert state.detached, row
    assert not state.expired_attributes and not state.unloaded, (row, state.expired_attributes, state.unloaded)


def test_results_are_complete_after_their_session_closed(world) -> None:
    from ui import common

    rita, maria = world.user("rita"), world.user("maria")
    d = next(d for d in world.drafts(Status.IN_REVIEW) if not d.warning_count)
    # Writes that flush, append audit events and change status before returning what they made.
    edited = common.call(workflow.perform, maria, d.id, "edit", slots={"opening": "Thanks for staying with Harbor Mutual."}, expected_revision=d.revision)
    assert edited.ok, edited.error
    _complete(edited.value)
    assert edited.value.revision == d.revision + 1 and edited.value.status == Status.IN_REVIEW
    fresh = world.draft(d.id)
    signed = common.call(
        workflow.perform, rita, d.id, "approve", password="rita-demo-pass", meaning=workflow.SIGNATURE_MEANINGS[0], expected_content_hash=fresh.content_hash
    )
    assert signed.ok, signed.error
    _complete(signed.value)
    assert signed.value.full_name and signed.value.revision == fresh.revision
    who = common.call(authenticate, "rita", "rita-demo-pass")
    assert who.ok
    _complete(who.value)
    # A read model: its rows are as complete as the dataclass around them.
    view = common.call(views.draft_view, rita, d.id)
    assert view.ok
    for row in (view.value.draft, view.value.campaign, view.value.variant, view.value.brand, view.value.recipient):
        _complete(row)
    assert view.value.draft.status == Status.APPROVED and view.value.valid_approval_count == 1


def test_a_domain_error_is_an_outcome_and_a_refusal_is_on_record(world) -> None:
    from ui import common

    maria = world.user("maria")
    d = world.drafts(Status.IN_REVIEW)[0]
    before = len(world.events("refused"))
    out = common.call(workflow.perform, maria, d.id, "reject", comment="Not for me to say.", show_error=False)
    assert not out.ok and isinstance(out.error, PermissionDenied)
    assert world.draft(d.id).status == Status.IN_REVIEW  # rolled back
    refused = world.events("refused")
    assert len(refused) == before + 1 and refused[-1].actor == "maria"
    missing = common.call(views.draft_view, maria, 10**9, show_error=False)
    assert not missing.ok and isinstance(missing.error, NotFound)
    assert len(world.events("refused")) == before + 1  # not a security refusal
