"""Budget allocation: exact against brute force and SLSQP, integer rounding, caps, errors, commands."""

import itertools
import json

import numpy as np
import pytest

from xllm.cli import main
from xllm.scaling.allocate import (
    AllocationError,
    continuous_optimum,
    mixture_optimum,
    optimal_allocation,
    parse_objective,
    uncertain_allocation,
    uniform_allocation,
)
from xllm.scaling.law import ScalingLaw


def random_laws(rng, n):
    return {
        f"l{i}": ScalingLaw(rng.uniform(1, 80), rng.uniform(-0.95, -0.05), rng.uniform(0.05, 1.0)) for i in range(n)
    }


def total(laws, pairs):
    with np.errstate(divide="ignore"):
        return sum(float(laws[k].predict(v)) for k, v in pairs.items())


def test_integer_allocation_equals_brute_force_on_small_grids():
    rng = np.random.default_rng(0)
    for _ in range(60):
        laws = random_laws(rng, 3)
        caps = {k: int(rng.integers(1, 16)) for k in laws}
        budget = int(rng.integers(3, sum(caps.values()) + 1))
        got = optimal_allocation(laws, caps, budget)
        assert sum(got.pairs.values()) == budget
        assert all(0 <= got.pairs[k] <= caps[k] for k in laws)
        best = max(
            total(laws, dict(zip(laws, xs)))
            for xs in itertools.product(*(range(caps[k] + 1) for k in laws))
            if sum(xs) == budget
        )
        assert total(laws, got.pairs) >= best - 1e-9


def _loss(u, a, b, g, scale):
    """The sum of 100 - S over languages for shares ``u`` of the budget ``scale``."""
    return float(np.sum(a * (g * np.maximum(u, 1e-12) * scale) ** b))


def test_continuous_optimum_matches_slsqp():
    from scipy.optimize import minimize

    rng = np.random.default_rng(1)
    for _ in range(10):
        laws = random_laws(rng, 6)
        a = np.array([v.alpha for v in laws.values()])
        b = np.array([v.beta for v in laws.values()])
        g = np.array([v.gamma for v in laws.values()])
        cap = rng.integers(10_000, 300_000, 6).astype(float)
        budget = float(cap.sum() * rng.uniform(0.2, 0.8))
        exact = continuous_optimum(a, b, g, cap, budget)
        scale = budget  # SLSQP on pairs / budget, so the variables are O(1)

        res = minimize(
            _loss,
            np.full(6, 1 / 6),
            args=(a, b, g, scale),
            method="SLSQP",
            bounds=[(1e-9, c / scale) for c in cap],
            constraints=[{"type": "eq", "fun": lambda u: u.sum() - 1.0}],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        assert exact.sum() == pytest.approx(budget, rel=1e-9)
        assert _loss(exact / scale, a, b, g, scale) <= res.fun + 1e-9  # never worse than SLSQP
        np.testing.assert_allclose(exact, res.x * scale, rtol=2e-3, atol=budget * 1e-4)


def test_caps_bind_and_uncapped_languages_share_one_marginal_gain():
    laws = {
        "easy": ScalingLaw(20.0, -0.5, 0.9),
        "hard": ScalingLaw(80.0, -0.2, 0.2),
        "mid": ScalingLaw(50.0, -0.3, 0.5),
    }
    caps = {"easy": 10**6, "hard": 50_000, "mid": 10**6}
    got = optimal_allocation(laws, caps, 600_000)
    assert got.pairs["hard"] == 50_000  # would take more: its cap binds
    a = np.array([laws[k].alpha for k in ("easy", "mid")])
    b = np.array([laws[k].beta for k in ("easy", "mid")])
    g = np.array([laws[k].gamma for k in ("easy", "mid")])
    x = np.array([got.pairs["easy"], got.pairs["mid"]], dtype=float)
    marginal = -a * b * g**b * x ** (b - 1)
    assert marginal[0] == pytest.approx(marginal[1], rel=1e-3)
    hard = laws["hard"]
    assert -hard.alpha * hard.beta * hard.gamma**hard.beta * 50_000 ** (hard.beta - 1) > marginal[0]


def test_budget_equal_to_all_data_takes_everything_and_zero_budget_nothing():
    laws = random_laws(np.random.default_rng(2), 4)
    caps = {k: 1000 * (i + 1) for i, k in enumerate(laws)}
    assert optimal_allocation(laws, caps, sum(caps.values())).pairs == caps
    zero = optimal_allocation(laws, caps, 0)
    assert set(zero.pairs.values()) == {0} and zero.mean_predicted is None


def test_rounding_sums_exactly_for_many_languages():
    rng = np.random.default_rng(3)
    laws = random_laws(rng, 2000)
    caps = {k: int(rng.integers(0, 5000)) for k in laws}
    budget = sum(caps.values()) // 3 + 7
    got = optimal_allocation(laws, caps, budget)
    assert sum(got.pairs.values()) == budget
    assert all(0 <= got.pairs[k] <= caps[k] for k in laws)


def test_uniform_split_spreads_what_a_capped_language_cannot_take():
    laws = {k: ScalingLaw(50.0, -0.3, 0.5) for k in ("a", "b", "c")}
    got = uniform_allocation(laws, {"a": 100, "b": 1000, "c": 1000}, 1000)
    assert got.pairs == {"a": 100, "b": 450, "c": 450}
    odd = uniform_allocation(laws, {"a": 1000, "b": 1000, "c": 1000}, 1001)
    assert sorted(odd.pairs.values()) == [333, 334, 334] and sum(odd.pairs.values()) == 1001


def test_paper_laws_give_a_better_mean_than_uniform():
    rng = np.random.default_rng(4)
    laws = random_laws(rng, 6)
    caps = {k: 1_000_000 for k in laws}
    best = optimal_allocation(laws, caps, 1_200_000)
    uni = uniform_allocation(laws, caps, 1_200_000)
    assert uni.pairs == {k: 200_000 for k in laws}
    assert best.mean_predicted >= uni.mean_predicted


@pytest.mark.parametrize(
    "law,caps,budget,message",
    [
        (ScalingLaw(50, -0.3, 0.5), {"a": 10, "b": 10}, 21, "exceeds the 20 pairs"),
        (ScalingLaw(50, -0.3, 0.5), {"a": 10, "b": 10}, -1, "budget must be >= 0"),
        (ScalingLaw(50, -0.3, 0.5), {"a": -5, "b": 10}, 3, "a: max_pairs must be a non-negative integer"),
        (ScalingLaw(50, -0.3, 0.5), {"a": 10, "b": 10}, 2.5, "budget must be an integer"),
        (ScalingLaw(50, 0.2, 0.5), {"a": 10, "b": 10}, 5, "beta must be in (-1, 0)"),
        (ScalingLaw(-1, -0.3, 0.5), {"a": 10, "b": 10}, 5, "alpha must be > 0"),
        (ScalingLaw(50, -0.3, 1.5), {"a": 10, "b": 10}, 5, "gamma must be in (0, 1]"),
        (ScalingLaw(50, -0.3, 0.5), {"a": 10}, 5, "max_pairs: no value for b"),
    ],
)
def test_bad_budgets_and_laws_are_errors(law, caps, budget, message):
    with pytest.raises(AllocationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        optimal_allocation({"a": law, "b": law}, caps, budget)


def test_allocate_command_interface(tmp_path, capsys):
    laws = {
        "ar": {"alpha": 60, "beta": -0.3, "gamma": 0.8, "max_pairs": 900},
        "hi": {"alpha": 80, "beta": -0.2, "gamma": 0.3, "max_pairs": 300},
    }
    (tmp_path / "laws.json").write_text(json.dumps(laws))
    out = tmp_path / "alloc.json"
    assert main(["allocate", "--laws", str(tmp_path / "laws.json"), "--budget", "1.1k", "--out", str(out)]) == 0
    got = json.loads(out.read_text())
    assert sum(got["allocation"].values()) == 1100 and got["allocation"]["hi"] == 300
    assert set(got["predicted"]) == {"ar", "hi"} and isinstance(got["mean_predicted"], float)
    assert got["uniform"]["allocation"] == {"ar": 800, "hi": 300}
    assert {"allocation", "predicted", "mean_predicted"} <= set(got["uniform"])


@pytest.mark.parametrize(
    "laws,budget,message",
    [
        ({"ar": {"alpha": 60, "beta": -0.3, "gamma": 0.8, "max_pairs": 9}}, "10", "budget 10 exceeds the 9 pairs"),
        ({"ar": {"alpha": 60, "beta": 0.3, "gamma": 0.8, "max_pairs": 9}}, "5", "ar: beta must be in (-1, 0)"),
        ({"ar": {"alpha": 60, "gamma": 0.8, "max_pairs": 9}}, "5", "ar: missing key 'beta'"),
        ({"ar": {"alpha": 60, "beta": -0.3, "gamma": 0.8}}, "5", "ar: missing key 'max_pairs'"),
        ({"ar": {"alpha": 60, "beta": -0.3, "gamma": 0.8, "max_pairs": 9}}, "many", "--budget: 'many' is not a number"),
    ],
)
def test_allocate_command_errors_are_one_line(tmp_path, capsys, laws, budget, message):
    (tmp_path / "laws.json").write_text(json.dumps(laws))
    out = tmp_path / "alloc.json"
    assert main(["allocate", "--laws", str(tmp_path / "laws.json"), "--budget", budget, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def _fit_json(path, lang, **fields):
    record = {"ok": True, "lang": lang, "alpha": 50.0, "beta": -0.3, "gamma": 0.5, **fields}
    path.write_text(json.dumps(record))
    return str(path)


def test_allocate_fits_builds_laws_from_fit_files(tmp_path):
    fits = [_fit_json(tmp_path / "near.json", "near", gamma=0.9), _fit_json(tmp_path / "far.json", "far", gamma=0.2)]
    out = tmp_path / "allocation" / "small.json"
    assert (
        main(
            [
                "allocate-fits",
                "--fits",
                *fits,
                "--max-pairs",
                "near=900,far=900,extra=5",
                "--budget",
                "600",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    got = json.loads(out.read_text())
    assert got["budget_name"] == "small" and got["budget"] == 600
    assert sum(got["allocation"].values()) == 600 and got["uniform"]["allocation"] == {"near": 300, "far": 300}
    assert got["allocation"]["far"] > got["allocation"]["near"]  # same α, β: the less similar language needs more
    assert "provenance" in got and got["max_pairs"] == {"near": 900, "far": 900}


def test_allocate_fits_refuses_a_failed_fit(tmp_path, capsys):
    bad = tmp_path / "far.json"
    bad.write_text(json.dumps({"ok": False, "lang": "far", "reason": "2 point(s); at least 3 are needed"}))
    fits = [_fit_json(tmp_path / "near.json", "near"), str(bad)]
    assert (
        main(
            [
                "allocate-fits",
                "--fits",
                *fits,
                "--max-pairs",
                "near=9,far=9",
                "--budget",
                "6",
                "--out",
                str(tmp_path / "a.json"),
            ]
        )
        == 2
    )
    assert "the fit for far failed (2 point(s)" in capsys.readouterr().err
    assert (
        main(
            [
                "allocate-fits",
                "--fits",
                fits[0],
                "--max-pairs",
                "far=9",
                "--budget",
                "6",
                "--out",
                str(tmp_path / "a.json"),
            ]
        )
        == 2
    )
    assert "--max-pairs: no value for near" in capsys.readouterr().err


def test_allocate_fits_refuses_laws_of_different_metrics(tmp_path, capsys):
    fits = [
        _fit_json(tmp_path / "near.json", "near", metric="comet", task="flores"),
        _fit_json(tmp_path / "far.json", "far", metric="chrf", task="flores"),
    ]
    assert (
        main(
            [
                "allocate-fits",
                "--fits",
                *fits,
                "--max-pairs",
                "near=9,far=9",
                "--budget",
                "6",
                "--out",
                str(tmp_path / "a.json"),
            ]
        )
        == 2
    )
    assert "laws must share a metric" in capsys.readouterr().err


# ------------------------------------------------------------------ under uncertainty


def replicate_laws(rng, laws, r, spread=0.1):
    """Each language's law with α and β jittered: stand-ins for its bootstrap fits."""
    return {
        k: [
            (v.alpha * np.exp(rng.normal(0, spread)), float(np.clip(v.beta + rng.normal(0, spread), -0.99, -0.01)))
            for _ in range(r)
        ]
        for k, v in laws.items()
    }


def test_mixture_optimum_of_one_replicate_is_the_point_optimum():
    rng = np.random.default_rng(5)
    for _ in range(10):
        laws = random_laws(rng, 8)
        a, b, g = (np.array([getattr(v, f) for v in laws.values()]) for f in ("alpha", "beta", "gamma"))
        cap = rng.integers(0, 300_000, 8).astype(float)
        budget = float(cap.sum() * rng.uniform(0.1, 0.9))
        got = mixture_optimum(np.log(a)[:, None], b[:, None], g, np.ones(1), cap, budget)
        np.testing.assert_allclose(got, continuous_optimum(a, b, g, cap, budget), rtol=1e-6, atol=1e-3)


def test_expected_objective_matches_slsqp_and_brute_force():
    from scipy.optimize import minimize

    rng = np.random.default_rng(6)
    laws = random_laws(rng, 5)
    reps = replicate_laws(rng, laws, 7, spread=0.3)
    names = list(laws)
    g = np.array([laws[k].gamma for k in names])
    la = np.log([[a for a, _ in reps[k]] for k in names])
    b = np.array([[b for _, b in reps[k]] for k in names])
    cap = rng.integers(20_000, 200_000, 5).astype(float)
    budget = float(cap.sum() * 0.4)
    exact = mixture_optimum(la, b, g, np.full(7, 1 / 7), cap, budget)

    def loss(u):
        return float(np.sum(np.exp(la + b * np.log(g[:, None] * np.maximum(u, 1e-12)[:, None] * budget)).mean(1)))

    res = minimize(
        loss,
        np.full(5, 0.2),
        method="SLSQP",
        bounds=[(1e-9, c / budget) for c in cap],
        constraints=[{"type": "eq", "fun": lambda u: u.sum() - 1.0}],
        options={"ftol": 1e-15, "maxiter": 500},
    )
    assert exact.sum() == pytest.approx(budget, rel=1e-9) and loss(exact / budget) <= res.fun + 1e-9
    np.testing.assert_allclose(exact, res.x * budget, rtol=3e-3, atol=budget * 1e-4)
    # integers: brute force over a small grid, scores averaged over the replicates
    small = {k: int(c) for k, c in zip(names[:3], (9, 12, 7))}
    sub = {k: laws[k] for k in small}
    got, _, unc = uncertain_allocation(sub, small, 15, {k: reps[k] for k in small}, "expected")

    def mean_score(xs):
        if 0 in xs:
            return -np.inf  # a language with no pairs scores -inf under the law
        return sum(np.mean([100 - a * (laws[k].gamma * x) ** b for a, b in reps[k]]) for k, x in zip(small, xs))

    best = max(mean_score(xs) for xs in itertools.product(*(range(c + 1) for c in small.values())) if sum(xs) == 15)
    assert mean_score([got.pairs[k] for k in small]) >= best - 1e-9
    assert unc["objective_value"] == pytest.approx(best / 3)


def test_gain_over_uniform_per_replicate_and_the_objectives_keep_their_promise():
    rng = np.random.default_rng(7)
    laws = random_laws(rng, 6)
    caps = {k: 1_000_000 for k in laws}
    exact = {k: [(v.alpha, v.beta)] * 50 for k, v in laws.items()}  # no uncertainty: every replicate is the law
    chosen, uniform, unc = uncertain_allocation(laws, caps, 600_000, exact, "point")
    point_gain = chosen.mean_predicted - uniform.mean_predicted
    assert point_gain > 0 and unc["p_optimized_better"] == 1.0
    assert unc["gain"]["ci"] == pytest.approx([point_gain, point_gain]) and unc["n_replicates"] == 50
    reps = replicate_laws(rng, laws, 200, spread=0.35)
    runs = {obj: uncertain_allocation(laws, caps, 600_000, reps, obj) for obj in ("point", "expected", "quantile:0.1")}
    gains = np.array(runs["point"][2]["replicate_gains"])
    assert 0 < runs["point"][2]["p_optimized_better"] == np.mean(gains > 0) < 1  # uncertain now
    lo, hi = runs["point"][2]["gain"]["ci"]
    assert lo < np.median(gains) < hi and lo < 0
    from xllm.scaling.allocate import replicate_arrays, replicate_means

    names = list(laws)
    la, b = replicate_arrays(names, reps)
    g = np.array([laws[k].gamma for k in names])
    means = {obj: replicate_means(la, b, g, np.array([r[0].pairs[k] for k in names])) for obj, r in runs.items()}
    assert means["expected"].mean() >= means["point"].mean() - 1e-9
    q10 = {obj: np.quantile(m, 0.1) for obj, m in means.items()}
    assert q10["quantile:0.1"] >= max(q10["point"], q10["expected"]) - 1e-9
    assert runs["quantile:0.1"][2]["objective_value"] == pytest.approx(q10["quantile:0.1"])
    for _, _, u in runs.values():
        assert sum(runs["point"][0].pairs.values()) == 600_000 and len(u["replicate_gains"]) == 200


@pytest.mark.parametrize("objective", ["best", "quantile", "quantile:1.5", "quantile:x"])
def test_bad_objectives_are_errors(objective):
    with pytest.raises(AllocationError, match="objective must be one of"):
        parse_objective(objective)


def test_allocate_fits_objective_uses_the_fits_replicates(tmp_path, capsys):
    rng = np.random.default_rng(8)
    laws = {"near": ScalingLaw(50.0, -0.3, 0.9), "far": ScalingLaw(50.0, -0.3, 0.2)}
    reps = replicate_laws(rng, laws, 40, spread=0.2)
    fits = [
        _fit_json(
            tmp_path / f"{k}.json",
            k,
            gamma=v.gamma,
            bootstrap=[list(r) for r in reps[k]],
            ci_method="segment-bootstrap",
        )
        for k, v in laws.items()
    ]
    out = tmp_path / "a.json"
    assert (
        main(
            [
                "allocate-fits",
                "--fits",
                *fits,
                "--max-pairs",
                "near=900,far=900",
                "--budget",
                "600",
                "--objective",
                "expected",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    got = json.loads(out.read_text())
    unc = got["uncertainty"]
    assert got["objective"] == unc["objective"] == "expected" and unc["n_replicates"] == 40
    assert 0 <= unc["p_optimized_better"] <= 1 and unc["gain"]["ci"][0] <= unc["gain"]["ci"][1]
    assert got["ci_methods"] == {"near": "segment-bootstrap", "far": "segment-bootstrap"}
    assert "P(optimized better)" in capsys.readouterr().out
    bare = [_fit_json(tmp_path / "n2.json", "near"), _fit_json(tmp_path / "f2.json", "far")]
    assert (
        main(
            ["allocate-fits", "--fits", *bare, "--max-pairs", "near=900,far=900", "--budget", "600", "--out", str(out)]
        )
        == 0
    )
    assert "uncertainty" not in json.loads(out.read_text())  # no replicates: the point split only
    assert (
        main(
            [
                "allocate-fits",
                "--fits",
                *bare,
                "--max-pairs",
                "near=900,far=900",
                "--budget",
                "600",
                "--objective",
                "quantile:0.1",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "needs bootstrap replicates; none for near, far" in capsys.readouterr().err


def test_each_replicates_own_optimum_and_the_regret_of_the_chosen_split():
    from xllm.scaling.allocate import replicate_arrays, replicate_optima

    rng = np.random.default_rng(9)
    laws = random_laws(rng, 8)
    reps = replicate_laws(rng, laws, 5, spread=0.3)
    names = list(laws)
    la, b = replicate_arrays(names, reps)
    g = np.array([laws[k].gamma for k in names])
    cap = rng.integers(0, 200_000, 8).astype(float)
    budget = float(cap.sum() * 0.35)
    own = replicate_optima(la, b, g, cap, budget)
    for r in range(5):
        np.testing.assert_allclose(
            own[:, r], continuous_optimum(np.exp(la[:, r]), b[:, r], g, cap, budget), rtol=1e-6, atol=1e-3
        )
    caps = {k: int(c) for k, c in zip(names, cap)}
    _, _, unc = uncertain_allocation(laws, caps, int(budget), reps, "expected")
    assert unc["regret"]["ci"][0] >= -1e-9 and unc["regret"]["mean"] > 0  # no split beats a replicate's own


def test_caps_come_from_what_cleaning_left_and_the_budget_still_builds(tmp_path, capsys):
    """Hindi's configured cap (the paper's raw total) is above what cleaning kept: the splits use
    min(max_pairs, cleaned pairs), so the budget is built from pairs that exist."""
    manifests = []
    for lang, pairs in (("ar", 5000), ("hi", 300)):
        path = tmp_path / f"{lang}.manifest.json"
        path.write_text(json.dumps({"lang": lang, "pairs": pairs}))
        manifests.append(str(path))
    out = tmp_path / "uniform.json"
    assert (
        main(
            [
                "split-uniform",
                "--max-pairs",
                "ar=4000,hi=2000",
                "--corpus-manifests",
                *manifests,
                "--budget",
                "2000",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    split = json.loads(out.read_text())
    assert split["allocation"] == {"ar": 1700, "hi": 300} and split["max_pairs"] == {"ar": 4000, "hi": 300}
    fits = []
    for lang, beta in (("ar", -0.3), ("hi", -0.2)):
        fit = tmp_path / f"{lang}.json"
        fit.write_text(json.dumps({"lang": lang, "ok": True, "alpha": 60.0, "beta": beta, "gamma": 0.5}))
        fits.append(str(fit))
    alloc = tmp_path / "b.json"
    assert (
        main(
            [
                "allocate-fits",
                "--fits",
                *fits,
                "--max-pairs",
                "ar=4000,hi=2000",
                "--corpus-manifests",
                *manifests,
                "--budget",
                "2000",
                "--out",
                str(alloc),
            ]
        )
        == 0
    )
    record = json.loads(alloc.read_text())
    assert record["allocation"]["hi"] <= 300 and sum(record["allocation"].values()) == 2000
    assert record["uniform"]["allocation"] == split["allocation"] and record["max_pairs"]["hi"] == 300
    assert (
        main(
            [
                "split-uniform",
                "--max-pairs",
                "ar=4000,hi=2000",
                "--corpus-manifests",
                *manifests,
                "--budget",
                "4301",
                "--out",
                str(tmp_path / "over.json"),
            ]
        )
        == 2
    )
    assert "over the 4300 pairs" in capsys.readouterr().err
