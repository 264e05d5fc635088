"""The filler interface and a deterministic fake for tests."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence

from .prompts import Prompt
from .settings import GenerationSettings


def candidate_seed(seed: int, index: int) -> int:
    """Seed for candidate `index` of a request: a pure function of (seed, index).

    Hashing (rather than seed + index) keeps neighbouring requests' candidates unrelated,
    and makes each candidate independent of the batch it happens to run in.
    """
    digest = hashlib.sha256(f"{int(seed)}:{int(index)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def check_args(prompts: Sequence[Prompt], seeds: Sequence[int]) -> None:
    if len(prompts) != len(seeds):
        raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds; pass one seed per prompt")


class SlotFiller(ABC):
    """Generates raw candidate texts for slot prompts. Implementations must be deterministic:
    the same (prompt, seed, settings) gives the same candidates whatever else is in the batch."""

    model_name: str = "unknown"
    fingerprint: str = ""

    @abstractmethod
    def generate(self, prompts: Sequence[Prompt], *, seeds: Sequence[int], settings: GenerationSettings, greedy: bool = False) -> list[list[str]]:
        """For each prompt, settings.n_candidates raw texts (exactly 1 when greedy)."""


class FakeFiller(SlotFiller):
    """Deterministic, inspectable filler (like llm's MockModel) for fast tests and demos.

    `enqueue` canned outputs (consumed one per candidate, in order); when the queue is empty
    the text is one of the prompt's few-shot examples, picked by a hash of prompt and seed.
    """

    model_name = "fake"
    fingerprint = hashlib.sha256(b"countersign-fake-filler-v1").hexdigest()

    def __init__(self, texts: Sequence[str] = ()) -> None:
        self._queue: deque[str] = deque(texts)
        self.history: list[tuple[Prompt, int]] = []

    def enqueue(self, texts: list[str]) -> None:
        self._queue.extend(texts)

    def _default(self, prompt: Prompt, seed: int, index: int) -> str:
        examples = [m["content"] for m in prompt.messages if m["role"] == "assistant"]
        if not examples:
            return "Thank you for being with us."
        pick = int(hashlib.sha256(f"{prompt.fingerprint}:{candidate_seed(seed, index)}".encode()).hexdigest(), 16)
        return examples[pick % len(examples)]

    def generate(self, prompts: Sequence[Prompt], *, seeds: Sequence[int], settings: GenerationSettings, greedy: bool = False) -> list[list[str]]:
        check_args(prompts, seeds)
        n = 1 if greedy else settings.n_candidates
        out: list[list[str]] = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            self.history.append((prompt, int(seed)))
            out.append([self._queue.popleft() if self._queue else self._default(prompt, seed, k) for k in range(n)])
        return out
