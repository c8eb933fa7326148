"""Tokenizing a mixture: ids without offsets (the fast path) against the batch call with offsets,
side by side in one run on CPU; prints the ratio and checks both give the same examples.

Rows shaped like the rehearsal's: translation rows under the authors' prompt (an English
sentence in, a sentence of another script out) and monolingual documents, tokenized by a
byte-level BPE of 4,096 pieces trained on them (the rehearsal's base model has the same kind).
Rounds alternate between the two paths so load on the machine hits both alike.

    python bench/bench_tokenize.py [--rows 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import time

from xllm.demo.tiny_model import bpe_tokenizer
from xllm.train import examples
from xllm.train.examples import encode_rows

WORDS = "the of a cat sat on mat river city market people house water light green small ".split()
GREEK = "αβγδεζηθικλμνξοπρστυφχψω"


def sentence(rng: random.Random, alphabet: str | None = None) -> str:
    if alphabet is None:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."
    return " ".join("".join(rng.choices(alphabet, k=rng.randint(2, 9))) for _ in range(rng.randint(8, 30))) + "."


def make_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = [
        {
            "instruction": "Translate the following sentences from English to Greek.",
            "input": sentence(rng),
            "output": sentence(rng, GREEK),
            "kind": "translation",
        }
        for _ in range(n)
    ]
    rows += [{"text": " ".join(sentence(rng, GREEK) for _ in range(12)), "kind": "monolingual"} for _ in range(n // 4)]
    return rows


class _Offsets(examples._Fast):
    """The fast path switched off: every row takes the offsets' way."""

    def __init__(self, tokenizer):
        super().__init__(tokenizer)
        self._backend = None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    rows = make_rows(args.rows, 0)
    texts = [r.get("text") or r["input"] + " " + r["output"] for r in rows[:5000]]
    tok = bpe_tokenizer(texts, 4096)
    fast_class = examples._Fast
    times = {"offsets": [], "fast": []}
    results = {}
    for _ in range(args.rounds):
        for name, cls in (("offsets", _Offsets), ("fast", fast_class)):
            examples._Fast = cls
            start = time.perf_counter()
            store, stats = encode_rows(iter(rows), tok, "authors", 512)
            times[name].append(time.perf_counter() - start)
            results[name] = (store, stats)
    examples._Fast = fast_class
    (a, sa), (b, sb) = results["offsets"], results["fast"]
    same = sa == sb and len(a) == len(b) and all(a[i] == b[i] for i in range(len(a)))
    best = {k: min(v) for k, v in times.items()}
    print(f"{len(rows)} rows, {sa.tokens} tokens, {sa.examples} examples; same examples: {same}")
    for name in times:
        print(f"{name:8s} best {best[name]:.2f} s ({sa.tokens / best[name] / 1e6:.2f}M tokens/s)")
    print(f"fast / offsets speed: {best['offsets'] / best['fast']:.2f}x")


if __name__ == "__main__":
    main()
