"""The batched decode loop: prefill a batch of prompts, then one token per row per step.

Only public transformers APIs: the model's forward with `cache=` and a `StaticCache`, whose
key/value storage is allocated once per batch (a growing cache concatenates, copying every
layer's whole cache on every step) and whose rows are picked with `Cache.reorder_cache`.

- A prompt is (head, tail) token ids. The head (system, voice, few-shot turns: ~250 of ~300
  tokens) is the same for every recipient of a slot, so it is prefilled once per batch and its
  cache rows are copied to the prompts that continue it; then the tails are prefilled.
- The n candidates of one prompt share the prompt: its cache row is repeated n times after the
  prefill, which cuts prefill work (the dominant cost for short slots) by n.
- Rows are left-padded: head padding | head | tail padding | tail | generated tokens. The mask
  hides the padding and positions count real tokens only, so a padded row sees exactly the RoPE
  positions and keys it would see alone, and its tokens do not depend on its batch mates
  (float32; see loading.choose_dtype).

Every row holds its own copy of the head in the cache. The version before issue 16 kept the head
once per batch through a custom attention hook on private APIs (`config._attn_implementation`, a
DynamicLayer subclass); it went with them. A rebuild on public APIs (AttentionInterface /
AttentionMaskInterface.register + model.set_attn_implementation, heads in their own StaticCache,
tails and generated tokens in another, tokens identical to this path) was measured and not kept:
bench/generate.py, batch 64, 2-core CPU, one process per run, alternated: peak memory 1349-1366 MiB
against 1988-1992 MiB here (-32%), but 8.8-13.7 tokens per CPU second against 18.7-28.1 here (its
attention ran as unfused eager ops, this path uses fused SDPA). Against the old private-API
code, same session, quiet machine, batch 64, two alternated runs each: 127-129 tokens/s and
1293-1321 MiB peak before, 112-114 tokens/s and 2002-2020 MiB here (-12% speed, +54% memory, the
same 1123 tokens). Throughput is what a campaign waits on and 2 GiB is not short, so the plain
path stays; a fused version (one SDPA call over head and tail) is the next thing to try.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .sampling import pick, row_uniforms
from .settings import GenerationSettings

Encoded = tuple[tuple[int, ...], list[int]]  # (head ids, tail ids) of one prompt


@dataclass
class _State:
    """What a batch's decode loop carries from step to step."""

    cache: Any  # transformers StaticCache, one row per live candidate
    mask: Any  # [rows, capacity] 1 where a row has a real token
    filled: int  # cache positions written so far (the same for every row)
    next_pos: Any  # [rows, 1] the RoPE position of each row's next token
    logits: Any  # [rows, vocab] float32, for the token to pick next


class Decoder:
    """Runs batches through one loaded causal LM."""

    def __init__(self, model: Any, pad_id: int, eos_ids: Sequence[int], device: str) -> None:
        import torch

        self.model, self.pad_id, self.device = model, pad_id, device
        self.eos_ids = list(eos_ids)
        self._eos = torch.tensor(self.eos_ids, device=device)

    def left_pad(self, seqs: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        """(ids, mask), both [len(seqs), longest]; a row's tokens at the right end."""
        import torch

        width = max(1, max(len(s) for s in seqs))
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            if s:
                ids[r, width - len(s) :] = torch.tensor(list(s))
                mask[r, width - len(s) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _forward(self, ids: Any, mask: Any, pos: Any, cache: Any) -> Any:
        """The last position's logits (float32); the cache is updated in place."""
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :].float()

    def prefill(self, batch: Sequence[Encoded], steps: int, n: int) -> _State:
        """Run the prompts and set up decoding: n rows per prompt, room for `steps` tokens each."""
        import torch
        from transformers import StaticCache

        heads = sorted({h for h, _ in batch})
        tail_ids, tail_mask = self.left_pad([t for _, t in batch])
        head_w = max(len(h) for h in heads)
        tail_w = tail_ids.shape[1]
        capacity = head_w + tail_w + steps
        cache = StaticCache(config=self.model.config, max_cache_len=capacity)
        mask = torch.zeros((len(batch), capacity), dtype=torch.long, device=self.device)
        if head_w:
            head_ids, head_mask = self.left_pad(heads)
            # Positions count real tokens only: a padded head sees the positions it would see alone.
            head_pos = (head_mask.cumsum(-1) - 1).clamp(min=0)
            self._forward(head_ids, _widen(head_mask, capacity), head_pos, cache)
            which: Any = torch.tensor([heads.index(h) for h, _ in batch], device=self.device)  # int64, as reorder_cache wants
            cache.reorder_cache(which)  # one cache row per head -> one per prompt
            mask[:, :head_w] = head_mask[which]
        mask[:, head_w : head_w + tail_w] = tail_mask
        # Padding sits between head and tail; the mask hides it and positions skip it.
        pos = (mask[:, : head_w + tail_w].cumsum(-1) - 1).clamp(min=0)[:, head_w:]
        logits = self._forward(tail_ids, mask, pos, cache)
        next_pos = pos[:, -1:] + 1
        if n > 1:  # the n candidates of a prompt share its prefill
            repeat: Any = torch.arange(len(batch), device=self.device).repeat_interleave(n)
            cache.reorder_cache(repeat)
            logits, mask, next_pos = (x.repeat_interleave(n, dim=0) for x in (logits, mask, next_pos))
        return _State(cache=cache, mask=mask, filled=head_w + tail_w, next_pos=next_pos, logits=logits)

    def step(self, state: _State, nxt: Any, keep: Any | None) -> Any:
        """One decode step: feed `nxt` (one token per row), keeping only rows `keep` if given."""
        if keep is not None:
            state.cache.reorder_cache(keep)
            state.mask, state.next_pos, nxt = state.mask[keep], state.next_pos[keep], nxt[keep]
        state.mask[:, state.filled] = 1
        state.logits = self._forward(nxt.unsqueeze(-1), state.mask, state.next_pos, state.cache)
        state.filled += 1
        state.next_pos = state.next_pos + 1
        return state.logits

    def run_batch(self, batch: Sequence[Encoded], seeds: Sequence[int], n: int, settings: GenerationSettings, greedy: bool) -> list[list[int]]:
        """Each row's generated token ids (a final EOS included), n rows per prompt in prompt order."""
        import torch

        dev = self.device
        rows = len(batch) * n
        steps = settings.max_new_tokens
        uniforms = None if greedy else row_uniforms(seeds, n, steps, dev)
        with torch.inference_mode():
            state = self.prefill(batch, steps, n)
            logits = state.logits
            alive = torch.arange(rows, device=dev)  # original row index of each batch row
            live = torch.ones(rows, dtype=torch.bool, device=dev)  # False once a row emitted EOS
            tokens = torch.full((rows, steps), -1, dtype=torch.long, device=dev)
            for t in range(steps):
                nxt = pick(logits, tokens[alive, :t], None if uniforms is None else uniforms[alive, t], settings, greedy)
                # Rows that already finished keep computing until pruned; their tokens are dropped.
                tokens[alive[live], t] = nxt[live]
                live &= ~torch.isin(nxt, self._eos)
                n_live = int(live.sum())
                if t == steps - 1 or n_live == 0:
                    break
                keep = None
                # Pruning copies the rows' caches, so do it only when it saves real work.
                if n_live <= len(alive) - max(1, len(alive) // 8):
                    keep = live.nonzero().squeeze(-1)
                    alive, live = alive[keep], live[keep]
                logits = self.step(state, nxt, keep)
        del state
        return [[x for x in row if x >= 0] for row in tokens.cpu().tolist()]


def _widen(mask: Any, width: int) -> Any:
    """A [rows, k] mask as [rows, width], zeros on the right (cache positions not written yet)."""
    import torch

    out = torch.zeros((mask.shape[0], width), dtype=mask.dtype, device=mask.device)
    out[:, : mask.shape[1]] = mask
    return out
