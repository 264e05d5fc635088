"""Sampling settings for slot generation, stored with every draft so a run can be reproduced."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class GenerationSettings:
    """How candidates are sampled. Frozen: a job records exactly what it used."""

    n_candidates: int = 4
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 48
    repetition_penalty: float = 1.1

    def __post_init__(self) -> None:
        # Fail at construction, not deep inside a batch an hour into a campaign.
        if self.n_candidates < 1:
            raise ValueError("n_candidates must be at least 1")
        if self.temperature <= 0:
            raise ValueError("temperature must be positive (use greedy=True for deterministic decoding)")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationSettings:
        """Tolerates unknown keys (settings saved by a newer version) and missing ones (older version)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def key(self) -> str:
        """Stable short hash: same settings -> same key across processes and Python versions."""
        canon = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:16]
