"""The allocation table (the paper's Table 4) from allocation JSONs, scores and real generations."""

import csv
import json
import random

import pytest

from xllm.cli import main

LANGS = ["near", "far"]
COLUMNS = "model,recipe,lang,scale,budget,alloc,task,direction,metric,value,n,ci_low,ci_high,signature".split(",")
REFS = [
    f"sentence number {i} about the {w} and the {v}"
    for i, (w, v) in enumerate(zip(["river", "market", "school", "train"] * 10, ["night", "sun", "rain", "noon"] * 10))
]


def _allocation(path, budget, pairs, uniform):
    path.write_text(
        json.dumps(
            {
                "budget": budget,
                "budget_name": path.stem,
                "allocation": pairs,
                "predicted": {k: 50.0 for k in pairs},
                "mean_predicted": 50.0,
                "uniform": {"allocation": uniform, "predicted": {k: 49.0 for k in uniform}, "mean_predicted": 49.0},
            }
        )
    )
    return str(path)


def _generations(root, budget, alloc, damage):
    rng = random.Random(budget)  # same damaged sentences for both allocations of a budget
    for lang in LANGS:
        d = root / "muit-budget" / budget / alloc / "flores"
        d.mkdir(parents=True, exist_ok=True)
        with open(d / f"en-{lang}.jsonl", "w") as handle:
            for i, ref in enumerate(REFS):
                words = ref.split()
                if rng.random() < damage:
                    words = words[: len(words) // 2]
                handle.write(
                    json.dumps({"id": i, "prediction": " ".join(words), "reference": ref, "source": ref}) + "\n"
                )


@pytest.fixture()
def inputs(tmp_path):
    allocs = [
        _allocation(tmp_path / "small.json", 600, {"near": 250, "far": 350}, {"near": 300, "far": 300}),
        _allocation(tmp_path / "large.json", 1200, {"near": 500, "far": 700}, {"near": 600, "far": 600}),
    ]
    rows = []
    for budget in ("small", "large"):
        for alloc, base in (("uniform", 40.0), ("optimized", 42.0)):
            for lang in LANGS:
                for metric in ("chrf", "bleu"):
                    rows.append(
                        {
                            "model": f"muit-budget/{budget}/{alloc}",
                            "recipe": "muit-budget",
                            "lang": lang,
                            "budget": budget,
                            "alloc": alloc,
                            "task": "flores",
                            "direction": f"en-{lang}",
                            "metric": metric,
                            "value": base + (1 if lang == "far" else 0),
                        }
                    )
    with open(tmp_path / "scores.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    _generations(tmp_path / "gens", "small", "uniform", 0.3)
    _generations(tmp_path / "gens", "small", "optimized", 0.3)  # identical generations: no gap
    _generations(tmp_path / "gens", "large", "uniform", 0.9)
    _generations(tmp_path / "gens", "large", "optimized", 0.0)  # clearly better
    return tmp_path, allocs


def test_table_has_the_paper_shape_and_marks_a_significant_gap(inputs):
    root, allocs = inputs
    out = root / "tables" / "allocation.md"
    assert (
        main(
            [
                "allocation-table",
                "--allocations",
                *allocs,
                "--scores",
                str(root / "scores.csv"),
                "--generations-root",
                str(root / "gens"),
                "--metrics",
                "comet,bleurt,bleu,chrf",
                "--bootstrap",
                "200",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "| Budget | Allocation | near | far | Predicted | BLEU | chrF |" in text
    assert "| small (600) | uniform | 300 | 300 | 49.00 | 40.50 | 40.50 |" in text
    assert "| large (1,200) | optimized | 500 | 700 | 50.00 | 42.50* (+2.00) | 42.50* (+2.00) |" in text
    small_opt = next(line for line in text.splitlines() if line.startswith("| small (600) | optimized"))
    assert "*" not in small_opt
    assert "Not measured (left out): comet, bleurt." in text


def test_table_without_generations_or_paper_numbers(inputs):
    root, allocs = inputs
    out = root / "allocation.md"
    paper = root / "paper.yaml"
    paper.write_text(
        "table4_allocation:\n  300k:\n"
        "    uniform: {pairs: {ar: 150000, zh: 150000}, comet: 82.13, bleurt: 66.36, bleu: 30.05}\n"
        "    optimized: {pairs: {ar: 140000, zh: 160000}, comet: 82.38, bleurt: 66.75, bleu: 30.21}\n"
    )
    assert (
        main(
            [
                "allocation-table",
                "--allocations",
                *allocs,
                "--scores",
                str(root / "scores.csv"),
                "--metrics",
                "chrf",
                "--paper-tables",
                str(paper),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "42.50 (+2.00)" in text and "*" not in text.split("The paper")[0].split("\n\n")[1]
    assert "| 300k | optimized | 140,000 | 160,000 | 82.38 | 66.75 | 30.21 |" in text


def test_table_rejects_a_file_that_is_not_an_allocation(inputs, capsys):
    root, _ = inputs
    (root / "bad.json").write_text(json.dumps({"alpha": 1}))
    assert (
        main(
            [
                "allocation-table",
                "--allocations",
                str(root / "bad.json"),
                "--scores",
                str(root / "scores.csv"),
                "--out",
                str(root / "t.md"),
            ]
        )
        == 2
    )
    assert "not an allocation" in capsys.readouterr().err


def test_predicted_gain_with_its_interval_beside_the_measured_one(inputs):
    from xllm.scaling.table import table_command

    root, allocs = inputs
    small = json.loads(open(allocs[0]).read())
    small.update(
        metric="chrf",
        objective="expected",
        uncertainty={
            "gain": {"ci": [-0.25, 1.75]},
            "p_optimized_better": 0.83,
            "mean_predicted_ci": {"optimized": [49.5, 50.5], "uniform": [48.25, 49.75]},
        },
    )
    open(allocs[0], "w").write(json.dumps(small))
    out = root / "t.md"
    assert (
        table_command(
            allocs,
            str(root / "scores.csv"),
            str(out),
            metrics=["bleu", "chrf"],
            generations_root=str(root / "gens"),
            n_boot=200,
        )
        == 0
    )
    text = out.read_text()
    assert "| small (600) | optimized | 250 | 350 | 50.00 [49.50, 50.50] |" in text
    assert "| small (600) | uniform | 300 | 300 | 49.00 [48.25, 49.75] |" in text
    gains = text.split("Predicted against measured gain")[1].split("\n\n")[1]
    rows = {line.split(" | ")[0][2:]: line for line in gains.splitlines()[2:]}
    # small: predicted +1.000 in [-0.25, +1.75] with P = 0.83; measured on chrF (the laws' metric) by rescoring
    # the generations, identical for both splits: a gain of 0 with the paired interval [0, 0]
    assert rows["small"].startswith(
        "| small | expected | +1.000 [-0.250, +1.750] | 0.83 | +0.000 (chrF) | [+0.000, +0.000] |"
    )
    # large: no replicates in the allocation (no interval, no P); measured on the first metric shown (BLEU)
    cells = rows["large"].split(" | ")
    lo, hi = (float(v) for v in cells[5].strip("[]").split(", "))
    assert cells[1:4] == ["point", "+1.000", "–"] and cells[4].endswith("(BLEU)")
    assert 0 < lo < float(cells[4].split()[0]) < hi
