"""Fixtures for slot-filling tests. Real-model tests are marked `model` and share one load."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from review.templates import SlotSpec


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in pyproject; kept here so this folder runs on its own (--strict-markers).
    config.addinivalue_line("markers", "model: runs the real bundled model (slower)")


WELCOME = SlotSpec(
    name="welcome",
    instruction="Write one friendly welcome sentence that mentions the customer's city.",
    inputs=("city",),
    max_words=20,
    examples=("We are delighted to welcome you to Harbor Mutual here in Bristol.", "Welcome to Harbor Mutual, and hello to everyone in Leeds."),
    fallback="We are delighted to welcome you to Harbor Mutual.",
)
TIP = SlotSpec(
    name="tip",
    instruction="Write one short, practical tip that helps the customer get the most from their type of insurance policy.",
    inputs=("policy_type",),
    max_words=28,
    examples=("Check that your named drivers are up to date before a long trip.",),
    fallback="You can review your cover and documents at any time in your online account.",
)


@pytest.fixture
def welcome_slot() -> SlotSpec:
    return WELCOME


@pytest.fixture
def tip_slot() -> SlotSpec:
    return TIP


@pytest.fixture(scope="session")
def real_filler() -> Iterator[object]:
    """The bundled model, loaded once per test session from a persistent cache.

    The cache lives outside the repo (tmp) so the first run pays the ~15 s dequantize once
    and later runs load in about a second.
    """
    from review.filling import TransformersFiller

    # The same converted-weights cache as every other test (tests/conftest.py sets it).
    cache = os.environ.get("COUNTERSIGN_MODEL_CACHE") or Path(__file__).resolve().parents[2] / "data" / "model-cache"
    yield TransformersFiller(cache_dir=Path(cache), batch_size=16)
