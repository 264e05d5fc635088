"""What every `python -m review` command module shares: the engine (migrated), the one-line
error wrapper, signing in, and the --as / --password options. review/cli.py and each area's
command module (cli_review, cli_work, cli_tokens, cli_record, expiry_cli, ...) import these, so
a command behaves the same whichever module defines it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from .errors import CountersignError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from .models import User


def engine() -> Engine:
    """The configured database, upgraded to the current schema."""
    from .db import make_engine, migrate

    eng = make_engine()
    migrate(eng)
    return eng


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A domain error is one line on stderr and exit status 1; tracebacks are for bugs only."""

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except CountersignError as e:
            raise click.ClickException(str(e)) from None

    return wrapper


def login(session: Session, username: str, password: str) -> User:
    from .auth import authenticate

    return authenticate(session, username, password)


as_user = click.option("--as", "username", required=True, help="Acting user's username.")
password_opt = click.option(
    "--password", envvar="COUNTERSIGN_PASSWORD", prompt=True, hide_input=True, help="Acting user's password (or env COUNTERSIGN_PASSWORD)."
)
