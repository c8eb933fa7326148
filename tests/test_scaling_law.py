"""Scaling-law fits: recovery of known parameters, robustness, failures, and the fit commands."""

import csv
import json

import numpy as np
import pytest

from xllm.cli import main
from xllm.scaling.law import BETA_BOUNDS, FitError, ScalingLaw, fit_params, fit_scaling_law, huber_irls, start_points

SCALES = np.array([1e3, 2e3, 4e3, 8e3, 16e3, 32e3, 64e3, 128e3])


def synthetic(alpha, beta, gamma, noise, seed, repeats=2):
    """Points from the law with multiplicative noise on 100 − S (the law's own error model)."""
    rng = np.random.default_rng(seed)
    x = np.tile(SCALES, repeats)
    s = 100 - alpha * (gamma * x) ** beta * np.exp(rng.normal(0, noise, len(x)))
    return x, s


@pytest.mark.parametrize("alpha,beta,gamma,seed", [(30.0, -0.3, 0.5, 1), (120.0, -0.15, 0.2, 2), (8.0, -0.6, 0.9, 3)])
def test_recovers_known_parameters_within_the_bootstrap_ci(alpha, beta, gamma, seed):
    x, s = synthetic(alpha, beta, gamma, noise=0.03, seed=seed)
    fit = fit_scaling_law(x, s, gamma, n_boot=300, seed=seed)
    assert fit.ci["alpha"][0] <= alpha <= fit.ci["alpha"][1]
    assert fit.ci["beta"][0] <= beta <= fit.ci["beta"][1]
    assert fit.law.beta == pytest.approx(beta, abs=0.03)
    assert fit.law.alpha == pytest.approx(alpha, rel=0.25)
    assert fit.r2 > 0.95 and fit.n_boot_ok == 300
    assert abs(fit.loso["extrapolation_error"]) < 1.0


def test_exact_points_give_exact_law_and_perfect_statistics():
    law = ScalingLaw(40.0, -0.25, 0.7)
    x = SCALES
    fit = fit_scaling_law(x, law.predict(x), 0.7, n_boot=50, seed=0)
    assert fit.law.alpha == pytest.approx(40.0, rel=1e-5)
    assert fit.law.beta == pytest.approx(-0.25, abs=1e-6)
    assert fit.rmse < 1e-5 and fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert fit.loso["mean_abs_error"] < 1e-4
    assert [r["held_out"] for r in fit.loso["per_scale"]] == list(x)


def test_huber_loss_resists_one_broken_model():
    x, s = synthetic(30.0, -0.3, 0.5, noise=0.01, seed=4, repeats=1)
    s[2] -= 15.0  # one model that collapsed
    robust = fit_scaling_law(x, s, 0.5, n_boot=0)
    slope, _ = np.polyfit(np.log(0.5 * x), np.log(100 - s), 1)
    assert abs(robust.law.beta + 0.3) < abs(slope + 0.3) / 3


def test_bootstrap_is_seeded():
    x, s = synthetic(30.0, -0.3, 0.5, noise=0.05, seed=5)
    a = fit_scaling_law(x, s, 0.5, n_boot=100, seed=9).ci
    b = fit_scaling_law(x, s, 0.5, n_boot=100, seed=9).ci
    c = fit_scaling_law(x, s, 0.5, n_boot=100, seed=10).ci
    assert a == b and a != c


def test_batched_irls_matches_the_multistart_optimizer():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, s = synthetic(
            rng.uniform(5, 100), rng.uniform(-0.9, -0.05), rng.uniform(0.1, 1), 0.05, int(rng.integers(1e6)), repeats=1
        )
        lx, ly = np.log(x), np.log(100 - s)
        a, b = huber_irls(lx[None], ly[None], 0.1)
        a0, b0, _ = fit_params(lx, ly, 0.1, start_points(lx, ly))
        assert b[0] == pytest.approx(b0, abs=1e-4) and a[0] == pytest.approx(a0, abs=1e-3)


def test_slope_steeper_than_minus_one_stops_at_the_bound():
    x = SCALES[:4]
    fit = fit_scaling_law(x, 100 - 1e6 * x**-1.5, 1.0, n_boot=0)
    assert fit.law.beta == pytest.approx(BETA_BOUNDS[0], abs=1e-4) and fit.at_bound


@pytest.mark.parametrize(
    "pairs,scores,reason",
    [
        ([100, 200], [40, 50], "at least 3"),
        ([100, 200, 400], [40, 50, 100], ">= 100"),
        ([100, 200, 400], [50, 45, 40], "does not decrease"),
        ([100, 100, 100], [40, 41, 42], "2 scales"),
        ([0, 200, 400], [40, 45, 50], "pairs must be > 0"),
        ([100, 200, 400], [40, float("nan"), 50], "finite"),
    ],
)
def test_fit_failures_name_the_reason(pairs, scores, reason):
    with pytest.raises(FitError, match=reason):
        fit_scaling_law(pairs, scores, 0.5, n_boot=10)


def _write_points(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pairs", "score"])
        writer.writerows(rows)


def test_fit_command_writes_the_interface_keys(tmp_path, capsys):
    law = ScalingLaw(50.0, -0.3, 0.6)
    _write_points(tmp_path / "p.csv", [(x, float(law.predict(x)) + d) for x, d in zip(SCALES, [0.1, -0.1] * 4)])
    assert (
        main(
            [
                "fit",
                "--points",
                str(tmp_path / "p.csv"),
                "--gamma",
                "0.6",
                "--out",
                str(tmp_path / "f.json"),
                "--bootstrap",
                "50",
            ]
        )
        == 0
    )
    fit = json.loads((tmp_path / "f.json").read_text())
    for key in ("alpha", "beta", "gamma", "n_points", "rmse", "r2", "ci", "loso", "note", "points", "provenance"):
        assert key in fit
    assert set(fit["ci"]) >= {"alpha", "beta"} and fit["n_points"] == 8 and fit["ok"] is True
    assert len(fit["bootstrap"]) == fit["n_bootstrap_ok"] == 50
    assert "not separately identifiable" in fit["note"]


def test_fit_command_failure_writes_reason_and_exits_nonzero(tmp_path, capsys):
    _write_points(tmp_path / "p.csv", [(100, 40), (200, 38), (400, 35)])
    out = tmp_path / "f.json"
    assert main(["fit", "--points", str(tmp_path / "p.csv"), "--gamma", "0.5", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not decrease" in err
    record = json.loads(out.read_text())
    assert record["ok"] is False and "does not decrease" in record["reason"] and len(record["points"]) == 3


@pytest.mark.parametrize(
    "content,gamma,message",
    [
        ("pairs,value\n1,2\n", "0.5", "missing score"),
        ("pairs,score\n1,abc\n", "0.5", "p.csv:2: score 'abc' is not a number"),
        ("pairs,score\n1,2\n", "1.5", "--gamma must be in (0, 1]"),
    ],
)
def test_fit_command_bad_input_is_one_line(tmp_path, capsys, content, gamma, message):
    (tmp_path / "p.csv").write_text(content)
    assert main(["fit", "--points", str(tmp_path / "p.csv"), "--gamma", gamma, "--out", str(tmp_path / "f.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "f.json").exists()


COLUMNS = "model,recipe,lang,scale,budget,alloc,task,direction,metric,value,n,ci_low,ci_high,signature".split(",")


def _scores_table(path, law, lang="ar"):
    rows = []
    for scale in (100, 200, 400, 800):
        for metric, direction, value in (
            ("chrf", f"en-{lang}", float(law.predict(scale))),
            ("chrf", f"{lang}-en", 10.0),
            ("bleu", f"en-{lang}", 5.0),
        ):
            rows.append(
                {
                    "model": f"coit/{lang}/{scale}",
                    "recipe": "coit",
                    "lang": lang,
                    "scale": scale,
                    "task": "flores",
                    "direction": direction,
                    "metric": metric,
                    "value": value,
                }
            )
    rows.append(
        {
            "model": f"coit/{lang}/full",
            "recipe": "coit",
            "lang": lang,
            "scale": "full",
            "task": "flores",
            "direction": f"en-{lang}",
            "metric": "chrf",
            "value": 1.0,
        }
    )  # not a point: no pair count
    rows.append(
        {
            "model": "muit/800",
            "recipe": "muit",
            "lang": lang,
            "scale": 800,
            "task": "flores",
            "direction": f"en-{lang}",
            "metric": "chrf",
            "value": 2.0,
        }
    )  # another recipe
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_fit_scores_selects_language_metric_direction_and_numeric_scales(tmp_path):
    law = ScalingLaw(60.0, -0.3, 0.4)
    _scores_table(tmp_path / "s.csv", law)
    (tmp_path / "sim.json").write_text(json.dumps({"lang": "ar", "gamma": 0.4}))
    out = tmp_path / "ar.json"
    (tmp_path / "again.csv").write_bytes((tmp_path / "s.csv").read_bytes())  # listed twice: counted once
    assert (
        main(
            [
                "fit-scores",
                "--scores",
                str(tmp_path / "s.csv"),
                str(tmp_path / "again.csv"),
                "--lang",
                "ar",
                "--task",
                "flores",
                "--metric",
                "chrf",
                "--direction",
                "en-x",
                "--similarity",
                str(tmp_path / "sim.json"),
                "--bootstrap",
                "20",
                "--seed",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    fit = json.loads(out.read_text())
    assert [p["pairs"] for p in fit["points"]] == [100, 200, 400, 800]
    assert fit["alpha"] == pytest.approx(60.0, rel=1e-4) and fit["beta"] == pytest.approx(-0.3, abs=1e-5)
    assert (fit["lang"], fit["metric"], fit["direction"], fit["task"]) == ("ar", "chrf", "en-ar", "flores")
    assert fit["provenance"]["seed"] == 3


def test_fit_scores_with_too_few_points_fails_cleanly(tmp_path, capsys):
    _scores_table(tmp_path / "s.csv", ScalingLaw(60.0, -0.3, 0.4))
    (tmp_path / "sim.json").write_text(json.dumps({"gamma": 0.4}))
    out = tmp_path / "el.json"
    assert (
        main(
            [
                "fit-scores",
                "--scores",
                str(tmp_path / "s.csv"),
                "--lang",
                "el",
                "--metric",
                "chrf",
                "--similarity",
                str(tmp_path / "sim.json"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "0 point(s)" in capsys.readouterr().err
    assert json.loads(out.read_text())["ok"] is False
