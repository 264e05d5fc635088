"""`python -m review link-sso`: link an existing account to a company (OpenID Connect) account.

Registered on review/cli.py's group when that module is imported; calls review.sso.link_sso,
the service behind company sign-in's "an administrator must link it" refusal."""

from __future__ import annotations

import click

from .cli import _engine, _login, cli, friendly

# The same options as review/cli.py's (declared here too: mypy cannot type them through the import cycle).
as_user = click.option("--as", "username", required=True, help="Acting admin's username.")
password_opt = click.option(
    "--password", envvar="COUNTERSIGN_PASSWORD", prompt=True, hide_input=True, help="Acting user's password (or env COUNTERSIGN_PASSWORD)."
)


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

    with session_scope(_engine()) as s:
        user = link_sso(s, _login(s, username, password), account, issuer=issuer, subject=subject)
        click.echo(f"{user.username} is linked to {issuer} / {subject}; company sign-in now lands on this account")
