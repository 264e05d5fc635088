"""The one way a route reaches the domain (like ui/common.py for pages): one unit of work per
request, the bearer token authenticated inside it, then ONE service. Only this module of api/
opens sessions (tests/test_layers.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from review.api_tokens import Principal, authenticate_token
from review.db import make_engine, migrate, session_scope

T = TypeVar("T")

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiToken",
    description="An API token an admin created (`python -m review token create`, or the API access page): `Authorization: Bearer cs_…`.",
)


def open_engine(url: str | None = None) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def call(request: Request, credentials: HTTPAuthorizationCredentials | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(session, principal, *args, **kwargs)` in one transaction, as the token's principal.
    Domain errors propagate to the app's handlers, which turn them into JSON answers."""
    with session_scope(engine_of(request)) as session:
        principal: Principal = authenticate_token(session, credentials.credentials if credentials else None)
        request.state.token = principal.key_id  # the access log names the token (its public key id, never the secret)
        return fn(session, principal, *args, **kwargs)


def ping(request: Request) -> None:
    from sqlalchemy import text

    with engine_of(request).connect() as conn:
        conn.execute(text("SELECT 1"))
