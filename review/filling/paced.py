"""A filler that takes a fixed time per prompt: pretend model cost for tests and benchmarks.

`PacedFiller(FakeFiller(), 0.05)` behaves like the fake filler (same texts, same fingerprint)
but spends 50 ms per prompt, so a test can kill a worker while a chunk is in flight and
bench/workers.py measures the queue against a known, fixed amount of work.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .base import SlotFiller
from .prompts import Prompt
from .settings import GenerationSettings


class PacedFiller(SlotFiller):
    def __init__(self, inner: SlotFiller, seconds_per_prompt: float) -> None:
        if seconds_per_prompt < 0:
            raise ValueError(f"seconds_per_prompt must be 0 or more, not {seconds_per_prompt}")
        self.inner = inner
        self.seconds_per_prompt = seconds_per_prompt
        self.model_name = inner.model_name
        self.fingerprint = inner.fingerprint

    def generate(self, prompts: Sequence[Prompt], *, seeds: Sequence[int], settings: GenerationSettings, greedy: bool = False) -> list[list[str]]:
        out = self.inner.generate(prompts, seeds=seeds, settings=settings, greedy=greedy)
        if prompts and self.seconds_per_prompt:
            time.sleep(self.seconds_per_prompt * len(prompts))
        return out
