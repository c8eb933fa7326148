"""Packing against padding for training, side by side in one run on CPU; prints ratios.

Both paths train the same Llama (random weights, built from a config) on the same micro-batches
of examples whose lengths follow Alpaca's shape under the Alpaca prompt and a LLaMA tokenizer
(a ~45-token template, short instructions, an input on 40% of examples, long-tailed responses,
cut at 512): the padded baseline pads each micro-batch to its longest example (stanford_alpaca's
dynamic padding), packing flattens it into one row with per-example attention
(``xllm.train.attention``). Steps alternate between the two so load on the machine hits both
alike. Useful fraction = real tokens / token positions the layers compute. Targets: packing
>= 95% useful and >= 1.8x the padded tokens/s.

    python bench/bench_packing.py [--batch-sizes 4,16] [--steps 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time

from xllm.train import batches
from xllm.train.examples import IGNORE, Example
from xllm.train.loop import micro_batch_loss


def alpaca_lengths(rng: random.Random, max_len: int = 512) -> tuple[int, int]:
    """(prompt, response) token counts shaped like Alpaca's under the Alpaca prompt."""
    prompt = 45 + int(rng.lognormvariate(2.6, 0.45))  # template + instruction (~15 tokens)
    if rng.random() < 0.4:
        prompt += 8 + int(rng.lognormvariate(3.0, 0.8))  # "### Input:" + input
    response = 2 + int(rng.lognormvariate(4.0, 0.9))  # median ~55, long tail
    total = min(prompt + response + 1, max_len)
    return prompt, total - prompt


def make_examples(n: int, seed: int, vocab: int) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p, r = alpaca_lengths(rng)
        ids = [rng.randrange(4, vocab) for _ in range(p + r)]
        out.append(Example(ids, [IGNORE] * p + ids[p:]))
    return out


def build_model(attn: str, hidden: int, layers: int, vocab: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=int(hidden * 8 / 3) // 8 * 8,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=hidden // 64,
        max_position_embeddings=512,
        attn_implementation=attn,
    )
    return LlamaForCausalLM(cfg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-sizes", default="4,16", help="examples per micro-batch (paper: 4; demo: 16)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per path and batch size")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from xllm.train.attention import register

    torch.set_num_threads(args.threads)
    models = {
        "packed": build_model(register(), args.hidden, args.layers, args.vocab),
        "padded": build_model("sdpa", args.hidden, args.layers, args.vocab),
    }
    optims = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, m in models.items()}
    cpu, no_autocast = torch.device("cpu"), contextlib.nullcontext()
    print(
        f"Llama hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}; {args.threads} thread(s); "
        f"Alpaca-shaped lengths; {args.steps} timed steps per path"
    )
    sample = sorted(len(e) for e in make_examples(2000, args.seed, args.vocab))
    print(f"lengths: mean {sum(sample) / len(sample):.0f}, median {sample[1000]}, p90 {sample[1800]}, max {sample[-1]}")
    print(f"{'batch':>5} {'path':>7} {'useful %':>9} {'tokens/s':>10} {'ms/step':>8}")
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        examples = make_examples(bs * (args.steps + 1), args.seed, args.vocab)
        groups = [examples[i * bs : (i + 1) * bs] for i in range(args.steps + 1)]
        stats = {k: {"useful": 0, "computed": 0, "seconds": 0.0} for k in models}
        for step, group in enumerate(groups):
            for name in ("packed", "padded") if step % 2 else ("padded", "packed"):
                packing = name == "packed"
                batch = batches.collate_packed(group) if packing else batches.collate_padded(group, 0)
                t0 = time.perf_counter()
                loss = micro_batch_loss(models[name], batch, packing, cpu, no_autocast)
                loss.backward()
                optims[name].step()
                optims[name].zero_grad(set_to_none=True)
                seconds = time.perf_counter() - t0
                if step == 0:
                    continue  # warm-up
                s = stats[name]
                s["useful"] += sum(len(e) for e in group)
                s["computed"] += batch["input_ids"].numel()
                s["seconds"] += seconds
        rates = {}
        for name, s in stats.items():
            rates[name] = s["useful"] / s["seconds"]
            print(
                f"{bs:>5} {name:>7} {100 * s['useful'] / s['computed']:>8.1f}% {rates[name]:>10.0f} "
                f"{1000 * s['seconds'] / args.steps:>8.0f}"
            )
        print(f"{bs:>5} packed/padded tokens/s: {rates['packed'] / rates['padded']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
