"""What identifies the model behind an inference server: its URL in canonical form, the
stable part of its /v1/models entry, a weights hash it may report, and the fingerprint every
draft it writes records (see RemoteFiller.connect in remote.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from review.errors import ConfigError

# Fields of a /v1/models entry that change without the model changing: vLLM stamps `created`
# with the time of the request and gives each `permission` a fresh random id.
VOLATILE_ENTRY_KEYS = frozenset({"created", "permission", "permissions"})
# What llama.cpp's /props says about the loaded model (the template decides what the model reads).
PROPS_KEYS = ("model_path", "model_alias", "chat_template", "build_info")
# Where a server may report a hash of its weights.
HASH_KEYS = ("sha256", "digest", "weights_sha256", "hash")


def api_base(url: str) -> str:
    """The server's OpenAI API root, ending in /v1, from a base URL given with or without it."""
    raw = url.strip().rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"COUNTERSIGN_MODEL_URL must be an http(s) URL such as http://127.0.0.1:8000/v1, not {url!r}")
    return raw if parts.path.endswith("/v1") else raw + "/v1"


def server_root(api: str) -> str:
    """Where a server's own (non-OpenAI) endpoints live: the API root without its /v1."""
    return api.removesuffix("/v1")


def wire_seed(seed: int) -> int:
    """A seed every server takes: llama.cpp reads 32 bits (and 0xFFFFFFFF means 'random'), so 31."""
    return int(seed) & 0x7FFF_FFFF


def stable_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in VOLATILE_ENTRY_KEYS}


def reported_sha256(entry: dict[str, Any], tags: Any, model_id: str) -> str | None:
    """A sha256 of the weights that the server itself reports: in the model's /v1/models entry
    (or its meta block), or in Ollama's /api/tags (`digest`). None when it reports none."""
    places: list[Any] = [entry, entry.get("meta"), entry.get("metadata")]
    if isinstance(tags, dict) and isinstance(tags.get("models"), list):
        places += [m for m in tags["models"] if isinstance(m, dict) and model_id in (m.get("name"), m.get("model"))]
    for place in places:
        if not isinstance(place, dict):
            continue
        for key in HASH_KEYS:
            value = str(place.get(key) or "").strip().lower().removeprefix("sha256:")
            if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
                return value
    return None


@dataclass(frozen=True)
class Identity:
    """Which model the server serves, as it describes it (stable fields only)."""

    model_id: str
    entry: dict[str, Any]
    props: dict[str, Any] | None
    reported_sha256: str | None


@dataclass(frozen=True)
class ServerModel:
    """What connecting learnt: the model, how the server answers, and the fingerprint drafts record."""

    identity: Identity
    native_n: bool  # one request returns n candidates
    penalty: bool  # the server accepts a repetition penalty (`repeat_penalty` / `repetition_penalty`)
    fingerprint: str


def fingerprint_of(api: str, identity: Identity, native_n: bool, penalty: bool) -> str:
    """`<model id>@sha256:<hex>`: the server's own weights hash when it reports one; otherwise a
    sha256 of what identifies the model from outside (URL, model id, its /v1/models entry,
    llama.cpp's /props) and how the server is asked (a change there can change the texts)."""
    digest = identity.reported_sha256
    if digest is None:
        described = {
            "url": api,
            "model": identity.model_id,
            "entry": identity.entry,
            "props": identity.props,
            "protocol": {"native_n": native_n, "penalty": penalty},
        }
        digest = hashlib.sha256(json.dumps(described, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    return f"{identity.model_id}@sha256:{digest}"
