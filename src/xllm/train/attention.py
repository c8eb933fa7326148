"""Attention for packed rows: causal within each example, nothing across examples.

Registered with transformers as ``xllm_varlen``; the model is called with ``cu_seq_lens_q`` (the
example boundaries of the flat row) and ``max_length_q``. On a GPU in half precision this is a
varlen flash kernel: flash-attn's ``flash_attn_varlen_func`` where installed, else PyTorch's
``torch.nn.attention.varlen.varlen_attn``. Otherwise on GPUs the flat row is gathered into one
padded block per example and run through SDPA with ``is_causal`` — exact, because with right
padding a real token only ever attends to earlier real tokens of its own example. On CPU, one
causal SDPA per example is fastest (no padding at all; measured 1.7x faster than the gather and
9x faster than a block-diagonal mask over the row). Without boundaries (e.g. generation) it is
plain SDPA.
"""

from __future__ import annotations

import functools

NAME = "xllm_varlen"


@functools.lru_cache(maxsize=1)
def _flash_varlen():
    """A varlen flash kernel taking ([T, H, D] q, k, v, cu, max, causal): flash-attn, else PyTorch's."""
    try:
        from flash_attn import flash_attn_varlen_func

        def flash(q, k, v, cu, max_len, dropout, scale):
            return flash_attn_varlen_func(
                q, k, v, cu, cu, max_len, max_len, dropout_p=dropout, softmax_scale=scale, causal=True
            )

        return flash
    except ImportError:
        pass
    try:
        import inspect

        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    params = inspect.signature(varlen_attn).parameters
    causal = {"window_size": (-1, 0)} if "window_size" in params else {"is_causal": True}

    def torch_varlen(q, k, v, cu, max_len, dropout, scale):
        if dropout:
            raise NotImplementedError("torch varlen_attn has no dropout")
        if k.shape[1] != q.shape[1]:  # GQA: repeat the key/value heads
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
        return varlen_attn(q, k, v, cu, cu, max_len, max_len, scale=scale, **causal)

    return torch_varlen


def varlen_attention(
    module,
    query,
    key,
    value,
    attention_mask,
    dropout: float = 0.0,
    scaling=None,
    is_causal=None,
    cu_seq_lens_q=None,
    max_length_q=None,
    **kwargs,
):
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    if cu_seq_lens_q is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, is_causal=is_causal, **kwargs
        )
    assert query.shape[0] == 1, "packed rows are flat: batch dimension 1"
    if not module.training:
        dropout = 0.0
    flash = _flash_varlen() if query.is_cuda and query.dtype in (torch.float16, torch.bfloat16) else None
    if flash is not None and not dropout:
        cu = cu_seq_lens_q.to(query.device, torch.int32)
        out = flash(
            query[0].transpose(0, 1),
            key[0].transpose(0, 1),
            value[0].transpose(0, 1),
            cu,
            max_length_q,
            dropout,
            scaling,
        )
        return out.unsqueeze(0), None
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    blocks = per_example if not query.is_cuda else gathered
    return blocks(query, key, value, cu_seq_lens_q, max_length_q, dropout, scaling), None


def per_example(query, key, value, cu_seq_lens, max_length, dropout=0.0, scaling=None):
    """One causal SDPA per example: [1, H, T, D] -> [1, T, H, D]."""
    import torch

    bounds = cu_seq_lens.tolist()
    lengths = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    # split (not slices): its backward writes each gradient once instead of a full-size zero per slice
    outs = [
        torch.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=dropout, scale=scaling, is_causal=True)
        for q, k, v in zip(query.split(lengths, 2), key.split(lengths, 2), value.split(lengths, 2))
    ]
    return torch.cat(outs, dim=2).transpose(1, 2)


def gathered(query, key, value, cu_seq_lens, max_length, dropout=0.0, scaling=None):
    """Examples gathered into right-padded blocks, one batched causal SDPA: [1, H, T, D] -> [1, T, H, D]."""
    import torch

    total = query.shape[2]
    cu = cu_seq_lens.to(query.device, torch.long)
    starts, lengths = cu[:-1], cu[1:] - cu[:-1]
    steps = torch.arange(max_length, device=query.device)
    index = (starts[:, None] + steps[None, :]).clamp_(max=total - 1)  # [n, M]
    valid = steps[None, :] < lengths[:, None]

    def blocks(x):  # [1, H, T, D] -> [n, H, M, D]
        return x[0][:, index].transpose(0, 1)

    out = torch.nn.functional.scaled_dot_product_attention(
        blocks(query), blocks(key), blocks(value), dropout_p=dropout, scale=scaling, is_causal=True
    )
    return out.transpose(1, 2)[valid].unsqueeze(0)  # [1, T, H, D] in the row's order


def register() -> str:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, varlen_attention)
    return NAME
