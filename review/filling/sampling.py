"""Seeded per-candidate token picks: repetition penalty, temperature, nucleus (top-p) sampling.

`model.generate` draws from one global RNG, so a row's tokens would depend on which other rows
share its batch. Here every candidate row has its own torch.Generator seeded from (request seed,
candidate index) and its uniforms are drawn up front, and a row's pick depends only on its own
logits, history and uniform: a resumed job reproduces the uninterrupted one, and
regenerate-verify reproduces a draft, whatever the batch looked like.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import candidate_seed
from .settings import GenerationSettings

TOP_K_FIRST = 512  # candidates looked at before falling back to a full sort (see `pick`)


def row_uniforms(seeds: Sequence[int], n: int, steps: int, device: Any) -> Any:
    """[len(seeds) * n, steps] float64 uniforms: row k of prompt i from candidate_seed(seeds[i], k)."""
    import torch

    draws = [torch.rand(steps, generator=torch.Generator().manual_seed(candidate_seed(s, k)), dtype=torch.float64) for s in seeds for k in range(n)]
    return torch.stack(draws).to(device)


def pick(logits: Any, history: Any, uniforms: Any, settings: GenerationSettings, greedy: bool) -> Any:
    """Next token per row. Row r's choice depends only on row r's logits, history and uniform.

    logits: [rows, vocab] float32; history: [rows, t] tokens this row generated so far;
    uniforms: [rows] float64 in [0, 1) (ignored when greedy).
    """
    import torch

    if settings.repetition_penalty != 1.0 and history.shape[1]:
        # Penalise only tokens this row already generated (not the prompt's): copying the
        # recipient's city or tenure from the prompt is exactly what a slot should do.
        hist = history.clamp(min=0)  # -1 (not generated yet) never occurs here; clamp is a guard
        picked = logits.gather(1, hist)
        p = settings.repetition_penalty
        logits = logits.scatter(1, hist, torch.where(picked > 0, picked / p, picked * p))
    if greedy:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / settings.temperature, dim=-1)
    # Nucleus sampling over the top-k first: a full 49k-way sort of every row costs more than
    # the model step. Rows whose top-k mass is below top_p are sampled from the full sorted
    # vocabulary instead, so the result is exactly nucleus sampling either way. The two kinds
    # of row are sampled apart: a row's arithmetic never depends on its batch mates, and the
    # full-width arrays (the process's peak memory in a campaign) exist only for short rows.
    vocab = probs.shape[-1]
    k = min(TOP_K_FIRST, vocab)
    top_p, top_idx = torch.topk(probs, k, dim=-1, sorted=True)
    short = top_p.sum(-1) < settings.top_p
    if k == vocab or not bool(short.any()):
        return nucleus(top_p, top_idx, uniforms, settings.top_p)
    picked = torch.empty(probs.shape[0], dtype=torch.long, device=probs.device)
    wide, narrow = short.nonzero().squeeze(-1), (~short).nonzero().squeeze(-1)
    wide_p, wide_idx = torch.sort(probs[wide], dim=-1, descending=True, stable=True)
    picked[wide] = nucleus(wide_p, wide_idx, uniforms[wide], settings.top_p)
    if len(narrow):
        picked[narrow] = nucleus(top_p[narrow], top_idx[narrow], uniforms[narrow], settings.top_p)
    return picked


def nucleus(sorted_p: Any, idx: Any, uniforms: Any, top_p: float) -> Any:
    """Sample one token per row from probabilities sorted in descending order (idx: their ids)."""
    import torch

    cum = sorted_p.cumsum(dim=-1)
    sorted_p = torch.where(cum - sorted_p < top_p, sorted_p, torch.zeros_like(sorted_p))  # keeps >= 1 token
    cdf = sorted_p.double().cumsum(dim=-1)
    target = uniforms.unsqueeze(-1) * cdf[:, -1:]
    pos = torch.searchsorted(cdf, target, right=True).clamp(max=cdf.shape[-1] - 1)
    return idx.gather(1, pos).squeeze(-1)
