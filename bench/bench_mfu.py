"""Training throughput and model FLOPs utilization on one GPU, beside a plain HF loop; prints ratios.

A ~1.1B Llama (TinyLlama's shape, random weights, written to a temporary directory) is trained on
Alpaca-shaped examples (``bench_packing.alpaca_lengths``) for a few steps by
(1) ``xllm.train.loop.train`` itself — the code path of the workflow: bf16 autocast, packing,
fused AdamW, optionally ``--compile`` — reading its per-step tokens/s from the metrics file; and
(2) a plain Hugging Face loop on the same examples in file order: dynamic padding per
micro-batch, ``model(..., labels=...)``, default AdamW. MFU = model FLOPs per second / peak, with
model FLOPs per token 6·N (N = parameters but the input embedding; the output head included) plus causal
attention 6·layers·hidden·E[len²]/E[len]. Peak defaults to 989 TFLOP/s (H100 SXM dense bf16).
Peak GPU memory is reported for both. The first ``--warmup`` steps of each are not timed.

    python bench/bench_mfu.py [--steps 20] [--batch 64] [--compile] [--peak-tflops 989]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from bench_packing import alpaca_lengths

SHAPE = dict(
    hidden_size=2048,
    intermediate_size=5632,
    num_hidden_layers=22,
    num_attention_heads=32,
    num_key_value_heads=4,
    vocab_size=32000,
    max_position_embeddings=2048,
)
SMOKE = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=512,
    max_position_embeddings=1024,
)
DEVICE = "cuda"


def _sync():
    import torch

    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _reset_peak():
    import torch

    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if DEVICE == "cuda" else float("nan")


def write_base(path: Path, seed: int) -> int:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from xllm.demo.tiny_model import byte_tokenizer

    torch.manual_seed(seed)
    config = LlamaConfig(**SHAPE, bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False)
    with torch.device(DEVICE):
        model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(path, safe_serialization=True)
    tok = byte_tokenizer()  # ids in the data are random below 260; vocabulary size comes from the config
    tok.save_pretrained(path)
    (path / "xllm_prompt.json").write_text('{"style": "compact"}')
    n = sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel()
    del model
    return n


def write_data(path: Path, n: int, seed: int) -> list[tuple[int, int]]:
    """Text rows whose byte-level token counts follow Alpaca's lengths (prompt masking is not timed)."""
    rng = random.Random(seed)
    lengths = [alpaca_lengths(rng) for _ in range(n)]
    with open(path, "w") as f:
        for p, r in lengths:
            f.write(json.dumps({"instruction": "a" * (p - 6), "input": "", "output": "b" * (r - 1)}) + "\n")
    return lengths


def flops_per_token(n_params: int, lengths: list[int]) -> float:
    mean = sum(lengths) / len(lengths)
    mean_sq = sum(x * x for x in lengths) / len(lengths)
    return 6 * n_params + 6 * SHAPE["num_hidden_layers"] * SHAPE["hidden_size"] * mean_sq / mean


def plain_loop(base: Path, data: Path, steps: int, warmup: int, batch: int, max_len: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from xllm.prompts import format_prompt

    tok = AutoTokenizer.from_pretrained(base)
    rows = [json.loads(line) for line in open(data)]
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation="sdpa").to(DEVICE)
    model.config.use_cache = False
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    _reset_peak()
    tokens = seconds = 0.0
    for step in range(steps + warmup):
        group = rows[step * batch : (step + 1) * batch]
        texts = [format_prompt(r["instruction"], "", "compact") + r["output"] for r in group]
        enc = tok(texts, return_tensors="pt", padding="longest", truncation=True, max_length=max_len)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        _sync()
        t0 = time.perf_counter()
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss = model(
                input_ids=enc["input_ids"].to(DEVICE),
                attention_mask=enc["attention_mask"].to(DEVICE),
                labels=labels.to(DEVICE),
            ).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync()
        if step >= warmup:
            seconds += time.perf_counter() - t0
            tokens += float(enc["attention_mask"].sum())
    peak = _peak_gib()
    del model, opt
    return {"tokens_per_s": tokens / seconds, "peak_gib": peak}


def xllm_loop(
    base: Path, data: Path, work: Path, steps: int, warmup: int, batch: int, max_len: int, compile: bool
) -> dict:
    from xllm.train.loop import TrainConfig, train

    metrics = work / "metrics.jsonl"
    _reset_peak()
    cfg = TrainConfig(
        base=str(base),
        data=str(data),
        out=str(work / "out"),
        checkpoint_dir=str(work / "ck"),
        epochs=1,
        learning_rate=1e-5,
        global_batch_size=batch,
        per_device_batch_size=batch,
        max_seq_length=max_len,
        precision="bf16",
        packing=True,
        max_steps=steps + warmup,
        log_every=5,
        compile=compile,
        metrics_file=str(metrics),
    )
    train(cfg)
    rows = [json.loads(line) for line in open(metrics)] if metrics.exists() else []
    peak = _peak_gib()
    timed = rows[warmup:]
    if not timed:
        return {"tokens_per_s": float("nan"), "peak_gib": peak}
    tokens = sum(r["tokens"] for r in timed)
    seconds = sum(r["tokens"] / r["tokens_per_s"] for r in timed)
    return {"tokens_per_s": tokens / seconds, "peak_gib": peak}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64, help="examples per step (one micro-batch)")
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--skip-plain", action="store_true")
    ap.add_argument("--out", help="write the results as JSON here too")
    ap.add_argument("--smoke", action="store_true", help="a tiny shape on CPU: checks the script, measures nothing")
    args = ap.parse_args()

    import torch

    global DEVICE
    if args.smoke:
        SHAPE.update(SMOKE)
        DEVICE = "cpu"
    elif not torch.cuda.is_available():
        print("bench_mfu needs a GPU (or --smoke)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        n_params = write_base(work / "base", seed=0)
        n_rows = args.batch * (args.steps + args.warmup)
        lengths = [p + r for p, r in write_data(work / "data.jsonl", n_rows, seed=0)]
        fpt = flops_per_token(n_params, lengths)
        device = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu (smoke)"
        results = {"params": n_params, "flops_per_token": fpt, "device": device}
        results["xllm"] = xllm_loop(
            work / "base", work / "data.jsonl", work, args.steps, args.warmup, args.batch, args.max_len, args.compile
        )
        if not args.skip_plain:
            results["plain"] = plain_loop(
                work / "base", work / "data.jsonl", args.steps, args.warmup, args.batch, args.max_len
            )
    print(
        f"{results['device']}: Llama {n_params / 1e9:.2f}B params, {fpt / 1e9:.2f} GFLOP/token, "
        f"batch {args.batch} examples, {args.steps} timed steps, compile={args.compile}"
    )
    for name in ("xllm", "plain"):
        if name in results:
            r = results[name]
            r["mfu"] = r["tokens_per_s"] * fpt / (args.peak_tflops * 1e12)
            print(
                f"{name:>6}: {r['tokens_per_s']:>9.0f} tokens/s  MFU {100 * r['mfu']:5.1f}%  "
                f"peak memory {r['peak_gib']:.1f} GiB"
            )
    if "plain" in results:
        print(f"xllm / plain tokens/s: {results['xllm']['tokens_per_s'] / results['plain']['tokens_per_s']:.2f}x")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
