"""`api.asgi:app` for an ASGI server started by name (uvicorn/gunicorn with several workers):
each worker process builds the app over COUNTERSIGN_DATABASE_URL."""

from __future__ import annotations

from .app import create_app

app = create_app()
