"""`python -m review link-sso`: link an existing account to a company (OpenID Connect) account.

Registered on review/cli.py's group when that module is imported; calls review.sso.link_sso,
the service behind company sign-in's "an administrator must link it" refusal."""

from __future__ import annotations

import click

from .cli import cli
from .cli_common import as_user, engine, friendly, login, password_opt


@cli.command("link-sso")
@click.argument("account")
@click.option("--issuer", required=True, help="The identity provider's issuer (the ID token's `iss`).")
@click.option("--subject", required=True, help="The company account's subject (the ID token's `sub`).")
@as_user
@password_opt
@friendly
def link_sso_cmd(account: str, issuer: str, subject: str, username: str, password: str) -> None:
    """Link ACCOUNT to the company account (issuer, subject): company sign-in then lands on it."""
    from .db import session_scope
    from .sso import link_sso

    with session_scope(engine()) as s:
        user = link_sso(s, login(s, username, password), account, issuer=issuer, subject=subject)
        click.echo(f"{user.username} is linked to {issuer} / {subject}; company sign-in now lands on this account")
