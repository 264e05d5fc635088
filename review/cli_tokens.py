"""`python -m review token …`, `webhook …` and `deliver-webhooks`: the API's admin commands.

Registered by review/cli.py (`register(cli)`); they call the same services as the app's
API access page. The API server itself is `python -m api` (the core never imports FastAPI)."""

from __future__ import annotations

import time

import click

from .cli_common import as_user, friendly, password_opt
from .cli_common import engine as _engine
from .cli_common import login as _login
from .models import ApiScope, WebhookEvent


def _when(ts: object) -> str:
    return "-" if ts is None else f"{ts:%Y-%m-%d %H:%M} UTC"


@click.group("token")
def token_group() -> None:
    """Scoped API tokens for sending systems (admin)."""


@token_group.command("create")
@click.option("--name", required=True, help="Who uses it, e.g. 'ESP production'.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(ApiScope.ALL), help="Repeat for several scopes.")
@click.option("--brand", default=None, help="Restrict the token to one brand's campaigns (its slug).")
@click.option("--expires-in-days", type=int, default=90, show_default=True, help="0: never expires.")
@as_user
@password_opt
@friendly
def token_create(name: str, scopes: tuple[str, ...], brand: str | None, expires_in_days: int, username: str, password: str) -> None:
    """Create a token; it is printed once and cannot be shown again."""
    from .api_tokens import create_token
    from .db import session_scope

    with session_scope(_engine()) as s:
        made = create_token(s, _login(s, username, password), name=name, scopes=scopes, brand_slug=brand, expires_in_days=expires_in_days or None)
    click.echo(f"token {made.info.id} '{made.info.name}' ({made.info.key_id}), scopes {', '.join(made.info.scopes)}, expires {_when(made.info.expires_at)}")
    click.echo("Store it now; it is not shown again:", err=True)
    click.echo(made.token)


@token_group.command("revoke")
@click.argument("key_id")
@as_user
@password_opt
@friendly
def token_revoke(key_id: str, username: str, password: str) -> None:
    """Revoke the token with this key id (the `cs_<key id>_…` part `token list` shows)."""
    from .api_tokens import revoke_token, token_by_key
    from .db import session_scope

    with session_scope(_engine()) as s:
        admin = _login(s, username, password)
        info = revoke_token(s, admin, token_by_key(s, admin, key_id).id)
    click.echo(f"token '{info.name}' ({info.key_id}) revoked")


@token_group.command("list")
@as_user
@password_opt
@friendly
def token_list(username: str, password: str) -> None:
    """Every token: key id, name, scopes, brand, state, expiry, last use."""
    from .api_tokens import list_tokens
    from .db import session_scope

    with session_scope(_engine()) as s:
        tokens = list_tokens(s, _login(s, username, password))
    for t in tokens:
        click.echo(
            f"{t.key_id}\t{t.name}\t{','.join(t.scopes)}\tbrand={t.brand or 'all'}\t{t.state}\texpires={_when(t.expires_at)}\tlast used={_when(t.last_used_at)}"
        )
    click.echo(f"{len(tokens)} token(s)")


@click.group("webhook")
def webhook_group() -> None:
    """Signed webhooks on publish and withdraw (admin)."""


@webhook_group.command("add")
@click.option("--name", required=True)
@click.option("--url", required=True, help="https://… (http only to localhost).")
@click.option("--event", "events", multiple=True, type=click.Choice(WebhookEvent.ALL), help="Repeat; default: every event.")
@click.option("--brand", default=None, help="Only this brand's campaigns (its slug).")
@as_user
@password_opt
@friendly
def webhook_add(name: str, url: str, events: tuple[str, ...], brand: str | None, username: str, password: str) -> None:
    """Register an endpoint; its signing secret is printed once."""
    from .db import session_scope
    from .webhooks import register_endpoint

    with session_scope(_engine()) as s:
        made = register_endpoint(s, _login(s, username, password), name=name, url=url, events=events or WebhookEvent.ALL, brand_slug=brand)
    click.echo(f"webhook endpoint {made.info.id} '{made.info.name}' -> {made.info.url} ({', '.join(made.info.events)})")
    click.echo("Signing secret (store it now; it is not shown again):", err=True)
    click.echo(made.secret)


@webhook_group.command("list")
@as_user
@password_opt
@friendly
def webhook_list(username: str, password: str) -> None:
    """Endpoints and their delivery counts."""
    from .db import session_scope
    from .webhooks import list_endpoints

    with session_scope(_engine()) as s:
        endpoints = list_endpoints(s, _login(s, username, password))
    for e in endpoints:
        state = "active" if e.active else "disabled"
        click.echo(f"{e.id}\t{e.name}\t{e.url}\t{','.join(e.events)}\t{state}\tdelivered={e.delivered} pending={e.pending} failed={e.failed}")
    click.echo(f"{len(endpoints)} endpoint(s)")


@webhook_group.command("disable")
@click.argument("endpoint_id", type=int)
@as_user
@password_opt
@friendly
def webhook_disable(endpoint_id: int, username: str, password: str) -> None:
    """Stop sending to an endpoint (its pending deliveries are dropped)."""
    from .db import session_scope
    from .webhooks import disable_endpoint

    with session_scope(_engine()) as s:
        info = disable_endpoint(s, _login(s, username, password), endpoint_id)
    click.echo(f"webhook endpoint {info.id} '{info.name}' disabled")


@webhook_group.command("rotate-secret")
@click.argument("endpoint_id", type=int)
@as_user
@password_opt
@friendly
def webhook_rotate(endpoint_id: int, username: str, password: str) -> None:
    """A new signing secret (printed once); the old one stops working at once."""
    from .db import session_scope
    from .webhooks import rotate_secret

    with session_scope(_engine()) as s:
        made = rotate_secret(s, _login(s, username, password), endpoint_id)
    click.echo(made.secret)


@webhook_group.command("retry")
@click.argument("delivery_id", type=int)
@as_user
@password_opt
@friendly
def webhook_retry(delivery_id: int, username: str, password: str) -> None:
    """Queue a given-up delivery again (after the receiver was fixed)."""
    from .db import session_scope
    from .webhook_delivery import deliver_due, retry_delivery

    engine = _engine()
    with session_scope(engine) as s:
        retry_delivery(s, _login(s, username, password), delivery_id)
    click.echo(str(deliver_due(engine)))


@click.command("deliver-webhooks")
@click.option("--loop", is_flag=True, help="Keep running: a worker instead of a cron job.")
@click.option("--interval", default=15, show_default=True, type=click.IntRange(1, 3600), help="Seconds between rounds with --loop.")
@friendly
def deliver_webhooks_cmd(loop: bool, interval: int) -> None:
    """Send the webhooks that are due (first attempts and retries with backoff)."""
    from .webhook_delivery import deliver_due

    engine = _engine()
    while True:
        report = deliver_due(engine)
        if report.tried or not loop:
            click.echo(str(report))
            for line in report.errors:
                click.echo(f"  {line}", err=True)
        if not loop:
            return
        time.sleep(interval)


def register(cli: click.Group) -> None:
    cli.add_command(token_group)
    cli.add_command(webhook_group)
    cli.add_command(deliver_webhooks_cmd)
