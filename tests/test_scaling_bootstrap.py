"""Segment bootstrap of the scaling law: paired resampling, intervals that hold, flags, the CLI switch."""

import csv
import json
import sys
import types

import numpy as np
import pytest

from xllm.cli import main
from xllm.metrics import registry
from xllm.metrics.scored import segment_mean
from xllm.scaling.bootstrap import fit_segment_bootstrap, replicate_scores
from xllm.scaling.law import FitError, ScalingLaw, fit_scaling_law

SCALES = (100, 200, 400, 800)


def segment_points(law, seed, n=300, spread=15.0, noise=8.0, shift=None):
    """Per-segment scores around the law: a difficulty shared by every scale (the same test sentences)
    plus each model's own per-segment noise; ``shift`` moves one scale's model off the law."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, spread, n)
    points = []
    for scale in SCALES:
        values = law.predict(scale) + difficulty + rng.normal(0, noise, n) + (shift or {}).get(scale, 0.0)
        points.append((scale, segment_mean("chrf", values, "test")))
    return points


def test_replicates_are_paired_over_scales():
    rng = np.random.default_rng(0)
    values = rng.normal(50, 20, 100)
    a, b = segment_mean("m", values, "s"), segment_mean("m", values + 3.0, "s")
    reps = replicate_scores([a, b], 50, seed=1)
    assert reps.shape == (50, 2) and np.std(reps[:, 0]) > 0.5
    np.testing.assert_allclose(reps[:, 1] - reps[:, 0], 3.0)  # same sentences drawn for both scales
    with pytest.raises(FitError, match="same test segments"):
        replicate_scores([a, segment_mean("m", values[:99], "s")], 10, 0)


def test_segment_bootstrap_has_many_distinct_replicates_where_points_collapse():
    law = ScalingLaw(60.0, -0.3, 0.5)
    points = segment_points(law, seed=2)
    seg = fit_segment_bootstrap(points, 0.5, n_boot=200, seed=0)
    pts = fit_scaling_law([p for p, _ in points], [s.score for _, s in points], 0.5, n_boot=200, seed=0)
    distinct = lambda fit: len({round(b, 10) for _, b in fit.boot})  # noqa: E731
    assert distinct(seg) > 190 and distinct(pts) < 60
    assert seg.ci_method == "segment-bootstrap" and pts.ci_method == "point-bootstrap"
    assert seg.n_boot_ok == 200 and seg.n_segments == 300
    assert seg.ci["beta"][0] < -0.3 < seg.ci["beta"][1]
    assert seg.ci["alpha"][0] < 60.0 < seg.ci["alpha"][1]
    pred = seg.prediction
    assert pred["pairs"] == [100.0, 200.0, 400.0, 800.0, 1600.0]
    assert all(lo < p < hi for (lo, hi), p in zip(pred["ci"], pred["predicted"]))
    record = seg.to_json()
    assert record["ci_method"] == "segment-bootstrap" and len(record["bootstrap"]) == 200


def test_segment_intervals_cover_the_planted_law_where_the_point_bootstrap_misses():
    """40 simulated languages: the segment bootstrap's 95% interval of the score at twice the largest
    scale holds the planted law in most of them; resampling the 4 points holds it far less often."""
    law = ScalingLaw(60.0, -0.3, 0.5)
    truth = law.predict(1600)
    seg = pts = 0
    for seed in range(40):
        points = segment_points(law, seed=seed)
        lo, hi = fit_segment_bootstrap(points, 0.5, n_boot=200, seed=seed).prediction["ci"][-1]
        seg += lo < truth < hi
        lo, hi = fit_scaling_law(SCALES, [s.score for _, s in points], 0.5, n_boot=200, seed=seed).prediction["ci"][-1]
        pts += lo < truth < hi
    assert seg >= 34 and pts <= 30


def test_segment_bootstrap_is_seeded_and_works_on_bleu_statistics():
    rng = np.random.default_rng(3)
    words = "the a river market school train night sun rain noon goes comes".split()
    refs = [" ".join(rng.choice(words, 10)) for _ in range(120)]
    points = []
    for scale, keep in zip(SCALES, (0.35, 0.5, 0.65, 0.8)):  # more data: more of each reference kept
        hyps = [" ".join(w if rng.random() < keep else "x" for w in ref.split()) for ref in refs]
        points.append((scale, registry.compute("bleu", hyps, refs)))
    assert [s.score for _, s in points] == sorted(s.score for _, s in points)
    a = fit_segment_bootstrap(points, 1.0, n_boot=60, seed=4)
    b = fit_segment_bootstrap(points, 1.0, n_boot=60, seed=4)
    c = fit_segment_bootstrap(points, 1.0, n_boot=60, seed=5)
    assert a.ci == b.ci and a.ci != c.ci
    assert a.ci["beta"][0] < a.law.beta < a.ci["beta"][1] and a.n_segments == 120


def test_flags_name_what_the_reader_must_know():
    law = ScalingLaw(60.0, -0.3, 0.5)
    clean = fit_segment_bootstrap(segment_points(law, seed=2, n=400), 0.5, n_boot=100, seed=0)
    assert clean.flags == ()
    # the 400-pair model is 6 points off the law: held out, the law misses it by far more than its interval
    off = fit_segment_bootstrap(segment_points(law, seed=2, n=400, shift={400: -6.0}), 0.5, n_boot=100, seed=0)
    assert "loso_outside_interval" in [f["flag"] for f in off.flags]
    assert "400 pairs" in next(f["message"] for f in off.flags if f["flag"] == "loso_outside_interval")
    flat = fit_scaling_law(SCALES, [40.0, 47.0, 41.0, 48.0], 0.5, n_boot=50)
    assert "low_r2" in [f["flag"] for f in flat.flags]
    steep = fit_scaling_law(SCALES, [100 - 1e6 * x**-1.5 for x in SCALES], 1.0, n_boot=0)
    assert [f["flag"] for f in steep.flags][0] == "beta_at_bound"
    assert steep.to_json()["flags"][0]["message"].startswith("beta = -1")


COLUMNS = "model,recipe,lang,scale,budget,alloc,task,direction,metric,value,n,ci_low,ci_high,signature".split(",")


@pytest.fixture()
def segment_files(tmp_path, monkeypatch):
    """Per-model scores CSVs and segment files, read by a stand-in for ``xllm.metrics.segments.load``
    (the reader main provides: path -> {(task, direction, metric): Scored})."""
    law = ScalingLaw(60.0, -0.3, 0.5)
    stored = {}
    scores, segments = [], []
    for scale, (_, scored) in zip(SCALES, segment_points(law, seed=5, n=200)):
        model = f"coit/ar/{scale}"
        path = tmp_path / f"{scale}.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerow(
                {
                    "model": model,
                    "recipe": "coit",
                    "lang": "ar",
                    "scale": scale,
                    "task": "flores",
                    "direction": "en-ar",
                    "metric": "chrf",
                    "value": scored.score,
                }
            )
        seg = tmp_path / f"{scale}.segments.npz"
        seg.write_bytes(b"stand-in")
        stored[str(seg)] = {("flores", "en-ar", "chrf"): scored}
        scores.append(str(path))
        segments.append(str(seg))
    fake = types.ModuleType("xllm.metrics.segments")
    fake.load = lambda path: stored[str(path)]
    monkeypatch.setitem(sys.modules, "xllm.metrics.segments", fake)
    import xllm.metrics

    monkeypatch.setattr(xllm.metrics, "segments", fake, raising=False)
    (tmp_path / "sim.json").write_text(json.dumps({"gamma": 0.5}))
    return tmp_path, scores, segments


def test_fit_scores_with_segments_switches_to_the_segment_bootstrap(segment_files, capsys):
    tmp_path, scores, segments = segment_files
    common = [
        "fit-scores",
        "--lang",
        "ar",
        "--metric",
        "chrf",
        "--similarity",
        str(tmp_path / "sim.json"),
        "--bootstrap",
        "80",
    ]
    # segments given in reverse order to the scores: each point still gets its own model's statistics
    assert (
        main([*common, "--scores", *scores[::-1], "--segments", *segments[::-1], "--out", str(tmp_path / "seg.json")])
        == 0
    )
    seg = json.loads((tmp_path / "seg.json").read_text())
    assert seg["ci_method"] == "segment-bootstrap" and seg["n_segments"] == 200
    assert seg["segments"] == segments and len(seg["bootstrap"]) == seg["n_bootstrap_ok"] == 80
    assert [p["pairs"] for p in seg["points"]] == list(SCALES)
    assert main([*common, "--scores", *scores, "--out", str(tmp_path / "pts.json")]) == 0
    pts = json.loads((tmp_path / "pts.json").read_text())
    assert pts["ci_method"] == "point-bootstrap" and "segments" not in pts
    assert pts["alpha"] == seg["alpha"] and pts["ci"] != seg["ci"]  # same point fit, other intervals


def test_fit_scores_segments_errors_are_one_line(segment_files, capsys):
    tmp_path, scores, segments = segment_files
    common = [
        "fit-scores",
        "--lang",
        "ar",
        "--similarity",
        str(tmp_path / "sim.json"),
        "--out",
        str(tmp_path / "f.json"),
    ]
    assert main([*common, "--scores", *scores, "--metric", "chrf", "--segments", *segments[:3]]) == 2
    assert "3 file(s) for 4 --scores file(s)" in capsys.readouterr().err
    bleu = []
    for path in scores:  # the same models scored in BLEU, whose statistics the segment files lack
        bleu.append(path.replace(".csv", ".bleu.csv"))
        open(bleu[-1], "w").write(open(path).read().replace("chrf", "bleu"))
    assert main([*common, "--scores", *bleu, "--metric", "bleu", "--segments", *segments]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no segment statistics for flores en-ar bleu" in err
