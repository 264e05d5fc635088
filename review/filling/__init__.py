"""Slot filling: prompts, the local model or an inference server, cleaning and best-of-N selection."""

from .base import FakeFiller, SlotFiller, candidate_seed
from .cleaning import clean_output
from .loading import default_cache_dir, default_model_path
from .model import TransformersFiller, load_filler
from .prompts import Prompt, build_prompt, sanitize_value
from .remote import RemoteFiller, load_remote_filler
from .scoring import choose_best, score_candidate
from .settings import GenerationSettings

__all__ = [
    "FakeFiller",
    "GenerationSettings",
    "Prompt",
    "RemoteFiller",
    "SlotFiller",
    "TransformersFiller",
    "build_prompt",
    "candidate_seed",
    "choose_best",
    "clean_output",
    "default_cache_dir",
    "default_model_path",
    "load_filler",
    "load_remote_filler",
    "sanitize_value",
    "score_candidate",
]
