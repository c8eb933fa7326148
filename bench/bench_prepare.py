"""Benchmark `xllm prepare-corpus` on generated WikiMatrix-style corpora: pairs/s and peak RSS.

Each size runs in a fresh process, side by side with an in-memory baseline (pandas: read the
whole file, filter, drop duplicates, write Parquet), and the script prints ratios measured in the
same run: streaming vs in-memory peak RSS and speed, and peak RSS across corpus sizes (flat when
memory does not grow with the corpus beyond the duplicate hashes). Targets (issue 4): peak RSS
under 1 GB at any size, >= 100k pairs/s on 2 cores.

    python bench/bench_prepare.py --pairs 1000000 4000000 [--baseline-max 1000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS_EN = "the of and to in is was for on as with by he it at from his an were are which this be had".split() + [
    f"word{i}" for i in range(3000)
]
WORDS_X = [f"слово{i}" for i in range(3000)] + ["и", "в", "на", "с", "по", "к", "из", "за", "о", "от"]

CHILD_STREAMING = """
import json, resource, sys, time
from xllm.data.clean import prepare_corpus
t, c = time.perf_counter(), time.process_time()
r = prepare_corpus("ru", [sys.argv[1]], sys.argv[2], [], sys.argv[3], sys.argv[4])
print(json.dumps({"seconds": time.perf_counter() - t, "kept": r["pairs"],
                  "read": r["corpora"]["wikimatrix"]["read"],
                  "cpu": time.process_time() - c, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CHILD_BASELINE = """
import csv, json, resource, sys, time
import pandas as pd
t, c = time.perf_counter(), time.process_time()
df = pd.read_csv(sys.argv[1], sep="\\t", header=None, names=["margin", "src", "tgt"], quoting=csv.QUOTE_NONE,
                 dtype={"src": str, "tgt": str}, keep_default_na=False, compression="gzip")
read = len(df)
df = df[df.margin >= 1.04]
for col in ("src", "tgt"):
    df[col] = df[col].str.normalize("NFC").str.strip()
df = df[(df.src != "") & (df.tgt != "") & (df.src.str.len() <= 1000) & (df.tgt.str.len() <= 1000)]
ratio = df.tgt.str.len() / df.src.str.len()
med = ratio.median()
df = df[(ratio >= med / 3) & (ratio <= med * 3)].drop_duplicates(["src", "tgt"])
df.assign(source="wikimatrix")[["src", "tgt", "source"]].to_parquet(sys.argv[3], compression="zstd", index=False)
print(json.dumps({"seconds": time.perf_counter() - t, "kept": len(df), "read": read, "cpu": time.process_time() - c,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def generate(path: Path, n: int, seed: int = 0) -> None:
    """n lines of margin, English, other: ~5% duplicates, ~3% low margin, sentence lengths 5-40 words."""
    rng = random.Random(seed)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        recent: list[str] = []
        for i in range(n):
            if recent and rng.random() < 0.05:
                out.write(rng.choice(recent))
                continue
            k = rng.randint(5, 40)
            en = " ".join(rng.choices(WORDS_EN, k=k)) + f" {i}."
            x = " ".join(rng.choices(WORDS_X, k=k)) + f" {i}."
            margin = rng.uniform(1.0, 1.03) if rng.random() < 0.03 else rng.uniform(1.04, 1.3)
            line = f"{margin:.4f}\t{en}\t{x}\n"
            out.write(line)
            if len(recent) < 1000:
                recent.append(line)
            else:
                recent[rng.randrange(1000)] = line


def run(child: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-c", child, *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=1_000_000,
        help="run the in-memory pandas baseline only up to this many pairs (0: never)",
    )
    parser.add_argument("--workdir", help="where the generated corpora go (default: a temporary directory)")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_prepare."))
    work.mkdir(parents=True, exist_ok=True)
    sources = work / "sources.yaml"
    results = {}
    print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}")
    print(
        f"{'pairs':>10} {'method':>10} {'wall s':>8} {'pairs/s':>10} {'CPU s':>8} {'pairs/CPU-s':>12} "
        f"{'peak RSS MB':>12} {'kept':>10}"
    )
    for n in args.pairs:
        raw = work / f"WikiMatrix.en-ru.{n}.tsv.gz"
        if not raw.exists():
            generate(raw, n)
        sources.write_text(
            "files:\n"
            + "".join(
                f"  {p.name}: {{url: 'https://example.org/{p.name}', sha256: null, corpus: wikimatrix, "
                f"langs: [en, ru], format: wikimatrix-tsv}}\n"
                for p in sorted(work.glob("WikiMatrix.*.tsv.gz"))
            )
        )
        methods = [("streaming", CHILD_STREAMING)] + ([("in-memory", CHILD_BASELINE)] if n <= args.baseline_max else [])
        for name, child in methods:
            r = run(child, raw, sources, work / f"{name}.{n}.parquet", work / f"{name}.{n}.json")
            r["pairs_per_s"] = r["read"] / r["seconds"]
            r["pairs_per_cpu_s"] = r["read"] / r["cpu"]
            results[(n, name)] = r
            print(
                f"{n:>10} {name:>10} {r['seconds']:>8.1f} {r['pairs_per_s']:>10.0f} {r['cpu']:>8.1f} "
                f"{r['pairs_per_cpu_s']:>12.0f} {r['rss_mb']:>12.0f} {r['kept']:>10}"
            )
    print()
    for n in args.pairs:
        s = results[(n, "streaming")]
        verdict = "ok" if s["rss_mb"] < 1024 and s["pairs_per_s"] >= 100_000 else "MISSED"
        line = (
            f"{n:>10} pairs: streaming peak RSS {s['rss_mb'] / 1024:.2f} GB, "
            f"{s['pairs_per_s'] / 1e3:.0f}k pairs/s wall, "
            f"{s['pairs_per_cpu_s'] / 1e3:.0f}k pairs per CPU-second ({verdict})"
        )
        if (n, "in-memory") in results:
            b = results[(n, "in-memory")]
            line += (
                f"; vs in-memory: RSS x{s['rss_mb'] / b['rss_mb']:.2f}, "
                f"speed x{s['pairs_per_s'] / b['pairs_per_s']:.2f}"
                f", CPU x{b['cpu'] / s['cpu']:.2f} less"
                f", same kept: {s['kept'] == b['kept']}"
            )
        print(line)
    if len(args.pairs) > 1:
        lo, hi = min(args.pairs), max(args.pairs)
        a, b = results[(lo, "streaming")], results[(hi, "streaming")]
        print(
            f"streaming, {hi} vs {lo} pairs: corpus x{hi / lo:.1f}, peak RSS x{b['rss_mb'] / a['rss_mb']:.2f}, "
            f"pairs/s x{b['pairs_per_s'] / a['pairs_per_s']:.2f}"
        )


if __name__ == "__main__":
    main()
