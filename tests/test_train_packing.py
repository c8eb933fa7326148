"""Packing without cross-contamination: a packed row gives each example the loss it gets alone."""

import random

import pytest
import torch

from xllm.errors import UserError
from xllm.train import batches
from xllm.train.attention import gathered, per_example
from xllm.train.examples import IGNORE, Example
from xllm.train.loop import micro_batch_loss


def _tiny_llama(attn):
    from transformers import LlamaConfig, LlamaForCausalLM

    from xllm.train.attention import register

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        attn_implementation=register() if attn == "varlen" else attn,
    )
    return LlamaForCausalLM(cfg)


def _examples(n=5, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(3, 20)
        ids = [rng.randrange(4, 50) for _ in range(length)]
        prompt = rng.randint(1, length - 1)
        out.append(Example(ids, [IGNORE] * prompt + ids[prompt:]))
    return out


def _reference_attention(q, k, v, cu):
    """Block-diagonal causal mask over the whole row."""
    seg = torch.repeat_interleave(torch.arange(len(cu) - 1), cu[1:] - cu[:-1])
    mask = (seg[:, None] == seg[None, :]) & torch.ones(len(seg), len(seg), dtype=torch.bool).tril()
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2)


@pytest.mark.parametrize("impl", [per_example, gathered])
def test_varlen_attention_matches_a_block_diagonal_mask(impl):
    torch.manual_seed(0)
    lengths = torch.tensor([3, 9, 1, 6])
    cu = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]).to(torch.int32)
    q, k, v = (torch.randn(1, 4, int(lengths.sum()), 8) for _ in range(3))
    out = impl(q, k, v, cu, int(lengths.max()))
    torch.testing.assert_close(out, _reference_attention(q, k, v, cu.long()), atol=1e-5, rtol=1e-5)


def test_packed_row_gives_each_example_its_unpacked_loss():
    model = _tiny_llama("varlen").eval()
    examples = _examples()
    ctx = torch.autocast("cpu", enabled=False)
    cpu = torch.device("cpu")
    alone = [micro_batch_loss(model, batches.collate_padded([ex], 0), False, cpu, ctx) for ex in examples]
    packed = batches.collate_packed(examples)
    logits = model(
        input_ids=packed["input_ids"],
        position_ids=packed["position_ids"],
        cu_seq_lens_q=packed["cu_seq_lens"],
        max_length_q=packed["max_length"],
    ).logits[0]
    token_loss = torch.nn.functional.cross_entropy(logits, packed["targets"][0], ignore_index=IGNORE, reduction="none")
    cu = packed["cu_seq_lens"].tolist()
    per_example_loss = [token_loss[a:b].sum() for a, b in zip(cu[:-1], cu[1:])]
    torch.testing.assert_close(torch.stack(per_example_loss), torch.stack(alone), atol=1e-4, rtol=1e-5)


def test_packed_and_padded_micro_batches_give_the_same_loss_and_gradients():
    examples = _examples(6, seed=1)
    results = []
    for packing in (True, False):
        model = _tiny_llama("varlen" if packing else "sdpa")
        batch = batches.collate_packed(examples) if packing else batches.collate_padded(examples, 0)
        loss = micro_batch_loss(model, batch, packing, torch.device("cpu"), torch.autocast("cpu", enabled=False))
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (lp, gp), (lq, gq) = results
    torch.testing.assert_close(lp, lq, atol=1e-4, rtol=1e-5)
    for a, b in zip(gp, gq):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_packed_row_restarts_positions_and_never_predicts_across_examples():
    examples = [Example([5, 6, 7], [IGNORE, 6, 7]), Example([8, 9], [IGNORE, 9])]
    packed = batches.collate_packed(examples)
    assert packed["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    assert packed["targets"].tolist() == [[6, 7, IGNORE, 9, IGNORE]]  # 7 does not predict 8
    assert packed["cu_seq_lens"].tolist() == [0, 3, 5]
    padded = batches.collate_padded(examples, pad_id=0)
    assert padded["input_ids"].tolist() == [[5, 6, 7], [8, 9, 0]]
    assert padded["targets"].tolist() == [[6, 7, IGNORE], [9, IGNORE, IGNORE]]


def test_steps_see_the_same_examples_whatever_the_world_size():
    one = batches.step_micro_batches(50, seed=3, step=4, global_batch=8, per_device=4)
    two = [batches.step_micro_batches(50, 3, 4, 8, 2, rank=r, world=2) for r in (0, 1)]
    flat = lambda mbs: sorted(i for mb in mbs for i in mb)  # noqa: E731
    assert flat(one) == sorted(flat(two[0]) + flat(two[1]))
    assert len(one) == 2 and all(len(mb) == 4 for mb in one) and all(len(two[r]) == 2 for r in (0, 1))
    # every epoch is a permutation, reshuffled each epoch
    per_epoch = batches.steps_per_epoch(50, 8)
    epoch0 = flat(sum((batches.step_micro_batches(50, 3, s, 8, 8) for s in range(per_epoch)), []))
    assert len(set(epoch0)) == len(epoch0) == 48
    assert batches.epoch_order(50, 3, 0) != batches.epoch_order(50, 3, 1)


def test_global_batch_must_divide():
    assert batches.grad_accumulation(128, 4, 8) == 4
    with pytest.raises(UserError, match="not divisible"):
        batches.grad_accumulation(128, 6, 8)
