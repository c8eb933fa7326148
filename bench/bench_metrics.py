"""Bootstrap confidence intervals: xllm.metrics (resample multiplicities x sufficient statistics)
against sacrebleu's own resampling (``significance._bootstrap_resample``, what
``corpus_score(n_bootstrap=...)`` runs) on the same statistics, in the same run.

FLORES-sized synthetic corpus (1012 segments), 1000 resamples, BLEU and chrF. Prints the time of
each and the ratio; also checks that both intervals agree to within resampling noise.

    .venv/bin/python bench/bench_metrics.py [--segments 1012] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import random
import time


def corpus(n: int, seed: int = 0):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(3000)]
    refs, hyps = [], []
    for _ in range(n):
        ref = [rng.choice(words) for _ in range(rng.randint(8, 40))]
        hyp = [w if rng.random() < 0.6 else rng.choice(words) for w in ref]
        refs.append(" ".join(ref) + ".")
        hyps.append(" ".join(hyp[: max(1, len(hyp) - rng.randint(0, 3))]) + ".")
    return hyps, refs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=1012)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()

    import numpy as np
    from sacrebleu.significance import _bootstrap_resample

    from xllm.metrics.bootstrap import confidence_interval
    from xllm.metrics.registry import compute
    from xllm.metrics.sacre import make_metric

    hyps, refs = corpus(args.segments)
    print(f"{args.segments} segments, {args.resamples} resamples; statistics extracted once, then resampled")
    for name in ("bleu", "chrf"):
        start = time.perf_counter()
        scored = compute(name, hyps, refs, lang="en")
        t_stats = time.perf_counter() - start
        start = time.perf_counter()
        low, high = confidence_interval(scored, args.resamples, seed=0)
        t_ours = time.perf_counter() - start
        metric = make_metric(name)
        stats = metric._extract_corpus_statistics(hyps, [refs])
        start = time.perf_counter()
        _, samples = _bootstrap_resample(stats, metric, args.resamples)
        t_sacre = time.perf_counter() - start
        s_low, s_high = np.percentile([x.score for x in samples], [2.5, 97.5])
        print(
            f"{name:5s} score {scored.score:7.3f} | 95% CI ours [{low:.3f}, {high:.3f}] sacrebleu "
            f"[{s_low:.3f}, {s_high:.3f}] | resampling ours {t_ours:6.3f}s, sacrebleu {t_sacre:6.3f}s, "
            f"ratio {t_sacre / t_ours:5.1f}x | (statistics extraction, shared: {t_stats:.2f}s)"
        )


if __name__ == "__main__":
    main()
