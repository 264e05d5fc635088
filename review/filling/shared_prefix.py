"""Decode-time attention that holds a prompt head's KV cache once per batch, not once per row.

Every prompt of a slot starts with the same head (system message, voice, few-shot examples:
about 250 of its ~300 tokens). The plain KV cache keeps a copy of that head for every row of a
batch (64 rows = 64 copies), which was two thirds of generation's peak memory and of the memory
read on every decode step. Here a batch keeps:

- the head's keys/values once per distinct head ([heads, kv_heads, head_len, dim]);
- each row's own keys/values (its tail and the tokens generated so far) in the cache proper.

A decode step's attention (one query token per row) scores the query against both parts,
takes one softmax over the concatenated scores, and sums both weighted value parts. That is
the same attention over the same keys; only where the keys are stored changes. Rows of one head
are adjacent (the filler sorts by head), so the head part is one matrix product per head for
all its rows together.

The head's own prefill is the model's attention; the tails' prefill and every decode step use
this one, so no row ever holds a copy of the head. The filler's probe checks, once per
model, that the model really routes attention through transformers' attention interface and
that both paths give the same next-token logits; a model that does not is run the plain way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

NAME = "countersign_shared_prefix"
_state = threading.local()
_registered = False
_register_lock = threading.Lock()


def additive_bias(visible: Any, dtype: Any) -> Any:
    """The attention bias for a boolean visibility mask: 0 where visible, -inf where not."""
    import torch

    return torch.zeros(visible.shape, dtype=dtype, device=visible.device).masked_fill_(~visible, float("-inf"))


@dataclass
class SharedHeads:
    """One batch's shared heads and the per-row bookkeeping the attention function needs."""

    keys: list[Any]  # per layer: [heads, kv_heads, head_len, dim]
    values: list[Any]
    head_bias: Any  # [heads, 1, head_len]: 0 for a real head token, -inf for head padding
    row_head: Any  # [rows]: which head each row continues (non-decreasing)
    tail_bias: Any = None  # [rows, 1, q_len, tail_len]: set before every forward pass
    groups: list[tuple[int, int, int]] = field(default_factory=list)  # (head, first row, end row)
    calls: int = 0

    def set_rows(self, row_head: Any) -> None:
        import torch

        self.row_head = row_head
        heads, counts = torch.unique_consecutive(row_head, return_counts=True)
        self.groups, start = [], 0
        for h, c in zip(heads.tolist(), counts.tolist(), strict=True):
            self.groups.append((h, start, start + c))
            start += c
        if len(set(heads.tolist())) != len(self.groups):
            raise ValueError("rows of one head must be adjacent")

    def set_tail_mask(self, mask: Any, dtype: Any) -> None:
        """Decode step. mask: [rows, tail_len] 1/0 over the rows' own tokens (tail padding is 0)."""
        self.tail_bias = additive_bias(mask != 0, dtype)[:, None, None, :]

    def set_prefill_mask(self, mask: Any, dtype: Any) -> None:
        """Tail prefill (the rows' own tokens, after the head). mask: [rows, tail_len] 1/0.
        A tail token sees the whole head, and the tail's real tokens up to itself."""
        import torch

        n = mask.shape[1]
        causal = torch.ones((n, n), dtype=torch.bool, device=mask.device).tril()
        visible = causal[None, :, :] & (mask[:, None, :] != 0)
        self.tail_bias = additive_bias(visible, dtype)[:, None, :, :]


def _attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None = None, **_: Any) -> tuple[Any, None]:
    """Attention with the head from state: `key`/`value` are the rows' own tokens (tail and generated)."""
    import torch

    st: SharedHeads | None = getattr(_state, "heads", None)
    if st is None:
        raise RuntimeError(f"{NAME} attention used outside a shared-prefix decode step")
    rows, q_heads, q_len, dim = query.shape
    kv_heads = key.shape[1]
    groups = q_heads // kv_heads  # query head h reads kv head h // groups (transformers' repeat_kv order)
    scale = scaling if scaling is not None else dim**-0.5
    layer = module.layer_idx
    head_k, head_v = st.keys[layer], st.values[layer]
    head_len = head_k.shape[-2]
    m = groups * q_len  # queries per (row, kv head), ordered group-major: index g * q_len + i
    q = query.reshape(rows, kv_heads, m, dim)
    tail_bias = st.tail_bias if q_len == 1 else st.tail_bias.repeat(1, 1, groups, 1)
    # Scores against the head, one product per head for all of its rows: [kv_heads, rows*m, head_len].
    head_scores = query.new_empty((rows, kv_heads, m, head_len))
    for h, a, b in st.groups:
        qh = q[a:b].permute(1, 0, 2, 3).reshape(kv_heads, (b - a) * m, dim)
        s = torch.matmul(qh, head_k[h].transpose(-1, -2)) * scale + st.head_bias[h]
        head_scores[a:b] = s.reshape(kv_heads, b - a, m, head_len).permute(1, 0, 2, 3)
    tail_scores = torch.matmul(q, key.transpose(-1, -2)) * scale + tail_bias  # [rows, kv_heads, m, tail_len]
    probs = torch.softmax(torch.cat([head_scores, tail_scores], dim=-1), dim=-1)
    out = torch.matmul(probs[..., head_len:], value)  # [rows, kv_heads, m, dim]
    head_probs = probs[..., :head_len]
    for h, a, b in st.groups:
        ph = head_probs[a:b].permute(1, 0, 2, 3).reshape(kv_heads, (b - a) * m, head_len)
        out[a:b] += torch.matmul(ph, head_v[h]).reshape(kv_heads, b - a, m, dim).permute(1, 0, 2, 3)
    st.calls += 1
    # The layout transformers' attention functions return: [rows, q_len, q_heads, dim].
    return out.reshape(rows, q_heads, q_len, dim).transpose(1, 2).contiguous(), None


def register() -> None:
    global _registered
    with _register_lock:
        if not _registered:
            from transformers import AttentionInterface

            AttentionInterface.register(NAME, _attention)
            _registered = True


class active:
    """Context manager: decode steps inside it use shared-head attention for `heads`."""

    def __init__(self, model: Any, heads: SharedHeads) -> None:
        self.model, self.heads = model, heads

    def __enter__(self) -> SharedHeads:
        register()
        self.previous = self.model.config._attn_implementation
        self.model.config._attn_implementation = NAME
        _state.heads = self.heads
        return self.heads

    def __exit__(self, *exc: object) -> None:
        self.model.config._attn_implementation = self.previous
        _state.heads = None
