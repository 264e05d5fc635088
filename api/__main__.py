"""`python -m api [--host 127.0.0.1] [--port 8600]`: serve the API beside the app (uvicorn)."""

from __future__ import annotations

import logging

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0 behind a TLS-terminating proxy).")
@click.option("--port", default=8600, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
def main(host: str, port: int, workers: int) -> None:
    """Serve the read-only API for sending systems (COUNTERSIGN_DATABASE_URL, migrated on start)."""
    import uvicorn

    from review.errors import CountersignError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if workers == 1:
            from .app import create_app

            uvicorn.run(create_app(), host=host, port=port, proxy_headers=True, server_header=False)
        else:
            uvicorn.run("api.asgi:app", host=host, port=port, workers=workers, proxy_headers=True, server_header=False)
    except CountersignError as e:
        raise click.ClickException(str(e)) from None


if __name__ == "__main__":
    main(prog_name="python -m api")
