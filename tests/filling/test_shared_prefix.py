"""Shared-head decode attention: the same attention as the model's own, with the head stored once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from review.filling import shared_prefix
from review.filling.shared_prefix import SharedHeads


def _reference(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, groups: int) -> torch.Tensor:
    """torch's SDPA over the full per-row keys, in transformers' output layout."""
    k = keys.repeat_interleave(groups, dim=1)
    v = values.repeat_interleave(groups, dim=1)
    bias = torch.zeros(mask.shape, dtype=query.dtype).masked_fill(mask == 0, float("-inf"))[:, None, None, :]
    return torch.nn.functional.scaled_dot_product_attention(query, k, v, attn_mask=bias).transpose(1, 2)


@pytest.mark.parametrize("row_head", [[0, 0, 0, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]])
def test_decode_attention_equals_full_attention(row_head: list[int]) -> None:
    gen = torch.Generator().manual_seed(3)
    rows, kv_heads, groups, dim, head_len, tail_len = 5, 2, 3, 8, 7, 4
    head_k = torch.randn(2, kv_heads, head_len, dim, generator=gen)
    head_v = torch.randn(2, kv_heads, head_len, dim, generator=gen)
    head_mask = torch.ones(2, head_len, dtype=torch.long)
    head_mask[1, :2] = 0  # head 1 is shorter: left padding
    tail_k = torch.randn(rows, kv_heads, tail_len, dim, generator=gen)
    tail_v = torch.randn(rows, kv_heads, tail_len, dim, generator=gen)
    tail_mask = torch.ones(rows, tail_len, dtype=torch.long)
    tail_mask[0, :1] = tail_mask[3, :2] = 0  # padded tails
    query = torch.randn(rows, kv_heads * groups, 1, dim, generator=gen)

    which = torch.tensor(row_head)
    bias = torch.zeros(head_mask.shape).masked_fill(head_mask == 0, float("-inf"))[:, None, :]
    st = SharedHeads([head_k], [head_v], bias, which)
    st.set_rows(which)
    st.set_tail_mask(tail_mask, torch.float32)
    module = SimpleNamespace(layer_idx=0)
    shared_prefix._state.heads = st
    try:
        got, _ = shared_prefix._attention(module, query, tail_k, tail_v, None, scaling=dim**-0.5)
    finally:
        shared_prefix._state.heads = None

    full_k = torch.cat([head_k[which], tail_k], dim=2)
    full_v = torch.cat([head_v[which], tail_v], dim=2)
    full_mask = torch.cat([head_mask[which], tail_mask], dim=1)
    want = _reference(query, full_k, full_v, full_mask, groups)
    assert got.shape == want.shape == (rows, 1, kv_heads * groups, dim)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert st.calls == 1


def test_rows_of_one_head_must_be_adjacent() -> None:
    st = SharedHeads([], [], None, torch.tensor([0]))
    with pytest.raises(ValueError, match="adjacent"):
        st.set_rows(torch.tensor([0, 1, 0]))


def test_attention_outside_a_batch_is_an_error() -> None:
    q = torch.zeros(1, 2, 1, 4)
    with pytest.raises(RuntimeError, match="outside"):
        shared_prefix._attention(SimpleNamespace(layer_idx=0), q, q, q, None)


def test_tail_prefill_attention_equals_full_causal_attention() -> None:
    """Several query tokens per row (the tails' prefill): causal inside the tail, the whole head visible."""
    gen = torch.Generator().manual_seed(5)
    rows, kv_heads, groups, dim, head_len, tail_len = 3, 2, 3, 8, 6, 4
    head_k = torch.randn(1, kv_heads, head_len, dim, generator=gen)
    head_v = torch.randn(1, kv_heads, head_len, dim, generator=gen)
    tail_k = torch.randn(rows, kv_heads, tail_len, dim, generator=gen)
    tail_v = torch.randn(rows, kv_heads, tail_len, dim, generator=gen)
    tail_mask = torch.ones(rows, tail_len, dtype=torch.long)
    tail_mask[1, :2] = 0  # a shorter, left-padded tail
    query = torch.randn(rows, kv_heads * groups, tail_len, dim, generator=gen)

    which = torch.zeros(rows, dtype=torch.long)
    st = SharedHeads([head_k], [head_v], torch.zeros(1, 1, head_len), which)
    st.set_rows(which)
    st.set_prefill_mask(tail_mask, torch.float32)
    shared_prefix._state.heads = st
    try:
        got, _ = shared_prefix._attention(SimpleNamespace(layer_idx=0), query, tail_k, tail_v, None, scaling=dim**-0.5)
    finally:
        shared_prefix._state.heads = None

    full_k = torch.cat([head_k[which], tail_k], dim=2).repeat_interleave(groups, dim=1)
    full_v = torch.cat([head_v[which], tail_v], dim=2).repeat_interleave(groups, dim=1)
    causal = torch.ones(tail_len, tail_len, dtype=torch.bool).tril()
    visible = torch.cat([torch.ones(rows, tail_len, head_len, dtype=torch.bool), causal[None] & (tail_mask[:, None, :] != 0)], dim=2)
    bias = torch.zeros(visible.shape).masked_fill(~visible, float("-inf"))[:, None]
    want = torch.nn.functional.scaled_dot_product_attention(query, full_k, full_v, attn_mask=bias).transpose(1, 2)
    assert got.shape == (rows, tail_len, kv_heads * groups, dim)
    real = tail_mask.bool()  # padded query positions are never read; compare the real ones
    torch.testing.assert_close(got[real], want[real], atol=1e-5, rtol=1e-5)
