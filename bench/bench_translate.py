"""Translation throughput: length-sorted against unsorted batches of the same size, same inputs.

Runs the real ``hf-seq2seq`` backend (xllm.translate.seq2seq) on a random-weight Marian model
built here (``--size tiny`` for CPU, ``--size base`` = OPUS-MT's shape for a GPU) over sentences
whose lengths follow an Alpaca-like long-tailed distribution. Both orders run alternately in the
same process, so the ratio is measured side by side.

What sorting buys: less padding in the encoder, and a decoder that stops when the batch's longest
output is done instead of running every batch as long as its outlier. A random model has no idea
of sentence length, so it is made never to stop (EOS suppressed) and every batch runs to its
budget, ``max_len_a * longest input + max_len_b`` with a = 1.0, b = 5: about the length a
trained model's longest output in that batch has. The backend's own defaults (a = 2, b = 10) are
a looser safety cap for real models, which stop at EOS.

    .venv/bin/python bench/bench_translate.py                 # CPU, tiny model
    .venv/bin/python bench/bench_translate.py --size base --device cuda --n 2048 --batch-size 64
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

WORDS = """the a small old red quick lazy fox dog bird river house garden teacher child farmer
    sees finds helps follows paints builds watches visits carries near behind under beside and
    with because however which when where people water language model answer question explain
    describe list three reasons why important example data result time world new good""".split()
SHAPES = {
    "tiny": dict(
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
    ),
    "base": dict(
        d_model=512,
        encoder_layers=6,
        decoder_layers=6,
        encoder_attention_heads=8,
        decoder_attention_heads=8,
        encoder_ffn_dim=2048,
        decoder_ffn_dim=2048,
    ),
}


def sentences(n: int, seed: int) -> list[str]:
    """Sentences with log-normal word counts (median 12, long tail to 60), like Alpaca's."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = min(60, max(2, round(rng.lognormvariate(math.log(12), 0.7))))
        out.append(" ".join(rng.choice(WORDS) for _ in range(length)).capitalize() + ".")
    return out


def build_model(out: Path, size: str, seed: int) -> Path:
    """A random Marian of the given shape that never ends a sentence early (see the docstring)."""
    import torch
    from transformers import MarianMTModel

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # helpers/ is not installed
    from helpers.tiny_mt import make_tiny_mt

    make_tiny_mt(out, "marian", sentences(2000, seed + 1), vocab_size=400, seed=seed, **SHAPES[size])
    model = MarianMTModel.from_pretrained(out)
    with torch.no_grad():
        model.final_logits_bias[..., model.config.eos_token_id] = -1e4
    model.save_pretrained(out)
    return out


def run(backend, texts: list[str], sort: bool) -> float:
    import torch

    backend.sort_by_length = sort
    if backend.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    backend.translate(texts)
    if backend.device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def padding_share(backend, texts: list[str], sort: bool) -> float:
    backend.sort_by_length = sort
    lengths = [len(ids) for ids in backend.tokenizer(texts)["input_ids"]]
    padded = sum(max(lengths[i] for i in b) * len(b) for b in backend.batches(texts))
    return 1 - sum(lengths) / padded


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--n", type=int, default=512, help="sentences per run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: stable on a shared machine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)

    import torch

    from xllm.languages import get
    from xllm.translate.seq2seq import Seq2SeqBackend

    torch.set_num_threads(args.threads)
    texts = sentences(args.n, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", args.size, args.seed)
        backend = Seq2SeqBackend(
            str(model),
            get("en"),
            get("de"),
            batch_size=args.batch_size,
            beam_size=args.beam_size,
            max_length=args.max_length,
            device=args.device,
            dtype=args.dtype,
            max_len_a=1.0,
            max_len_b=5,
        )
        run(backend, texts[: args.batch_size], True)  # warm-up
        times = {True: [], False: []}
        for _ in range(args.repeats):
            for sort in (True, False):
                times[sort].append(run(backend, texts, sort))
    t_sorted, t_unsorted = statistics.median(times[True]), statistics.median(times[False])
    result = {
        "device": backend.device,
        "size": args.size,
        "n": args.n,
        "batch_size": args.batch_size,
        "beam_size": args.beam_size,
        "dtype": backend.settings["dtype"],
        "repeats": args.repeats,
        "sorted_sent_per_s": round(args.n / t_sorted, 1),
        "unsorted_sent_per_s": round(args.n / t_unsorted, 1),
        "speedup": round(t_unsorted / t_sorted, 2),
        "padding_share_sorted": round(padding_share(backend, texts, True), 3),
        "padding_share_unsorted": round(padding_share(backend, texts, False), 3),
        "torch_threads": torch.get_num_threads(),
    }
    print(f"{args.size} Marian on {backend.device}, {args.n} sentences, batch {args.batch_size}, beam {args.beam_size}")
    print(
        f"  sorted:   {result['sorted_sent_per_s']:8.1f} sent/s  (input padding {result['padding_share_sorted']:.1%})"
    )
    print(
        f"  unsorted: {result['unsorted_sent_per_s']:8.1f} sent/s  "
        f"(input padding {result['padding_share_unsorted']:.1%})"
    )
    print(f"  length-sorted / unsorted throughput: {result['speedup']:.2f}x (target >= 1.5x)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
