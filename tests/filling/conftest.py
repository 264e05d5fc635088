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


_TINY_TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
    "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama chat model saved as a plain Hugging Face directory, the way a user
    points COUNTERSIGN_MODEL_PATH at their own model. Built in about a second; no download."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    extra = ["York", "Hull", "Ely", "Kingston", "upon", "motor", "pet", "home", "Warm", ".", ",", "system", "user", "assistant", "Voice", ":"]
    words = " ".join([*WELCOME.instruction.split(), *TIP.instruction.split(), *" ".join(WELCOME.examples + TIP.examples).split(), *extra])
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator([words], trainers.WordLevelTrainer(special_tokens=["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>")
    tokenizer.chat_template = _TINY_TEMPLATE
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention, like the bundled model
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-chat-model")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
