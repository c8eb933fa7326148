"""The workflow as code: formatting, lint, planning the paper's grid, config errors, and the whole
demo DAG on tests/config.test.yaml with the contents of every final output checked."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xllm.demo.pretrain import RECORD
from xllm.demo.synthetic import LanguageSpec

BIN = Path(sys.executable).parent


def snakemake(*args, cwd, timeout=600):
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    counts = {}
    table = output.split("Job stats:", 1)[1]
    for line in table.splitlines():
        match = re.match(r"^([a-z_]+)\s+(\d+)$", line.strip())
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


def workflow_copy(repo: Path, dest: Path, config: Path | None = None) -> Path:
    """The workflow's files in a fresh directory, so a test run writes its own results/."""
    for name in ("Snakefile", "config.yaml", "config.demo.yaml"):
        shutil.copy(repo / name, dest / name)
    shutil.copytree(repo / "workflow", dest / "workflow")
    shutil.copytree(repo / "envs", dest / "envs")
    if config:
        shutil.copy(config, dest / config.name)
    return dest


def test_snakefmt_check_is_clean(repo):
    files = ["Snakefile", *sorted(str(p.relative_to(repo)) for p in (repo / "workflow/rules").glob("*.smk"))]
    run = subprocess.run([str(BIN / "snakefmt"), "--check", *files], cwd=repo, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("config", ["config.yaml", "config.demo.yaml"])
def test_snakemake_lint_is_clean(repo, config):
    run = snakemake("--lint", "--configfile", config, cwd=repo)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Congratulations" in run.stdout + run.stderr


def test_paper_config_plans_the_full_grid_without_data(repo, tmp_path):
    cwd = workflow_copy(repo, tmp_path)
    run = snakemake("-n", "all", "--configfile", "config.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    paper = yaml.safe_load((repo / "config.yaml").read_text())
    langs, scales, budgets = paper["languages"], paper["scales"], paper["budgets"]
    n_models = 1 + len(langs) * len(scales) + 1 + 2 * len(budgets)  # alpaca-en, coit, muit, budgets
    assert counts["train_model"] == counts["tokenize_mixture"] == n_models
    assert counts["generate_model"] == counts["score_model"] == n_models
    assert counts["fit_scaling_law"] == len(langs)
    assert counts["allocate_budget"] == len(budgets)
    assert counts["translate_alpaca"] == len(langs) * paper["translate"]["shards"]
    assert counts["subset_corpus"] == len(langs) * len(scales)
    assert counts["prepare_mlqa"] == len(paper["eval"]["mlqa_settings"])
    assert counts["download_hf_model"] >= 2  # the base model and the metric checkpoints


def test_one_language_target_builds_only_what_it_needs(repo, tmp_path):
    cwd = workflow_copy(repo, tmp_path)
    run = snakemake("-n", "results/scaling/ar.json", "--configfile", "config.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    paper = yaml.safe_load((repo / "config.yaml").read_text())
    assert counts["train_model"] == len(paper["scales"])  # coit/ar/* only
    assert counts["translate_alpaca"] == paper["translate"]["shards"]  # Arabic only
    assert "allocate_budget" not in counts and "fit_scaling_law" in counts


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(colour="blue"), "colour"),
        (lambda c: c["languages"].append("xx"), "xx"),
        (lambda c: c.update(scales=[-5, 100]), "-5"),
        (lambda c: c["budgets"].update(huge=10**9), "huge"),
    ],
    ids=["unknown-key", "unknown-language", "negative-scale", "budget-over-maxima"],
)
def test_bad_config_stops_before_any_job_with_one_line(repo, tmp_path, edit, message):
    cwd = workflow_copy(repo, tmp_path)
    config = yaml.safe_load((repo / "config.yaml").read_text())
    edit(config)
    (cwd / "bad.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "--configfile", "bad.yaml", cwd=cwd)
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not (cwd / "results").exists()


def test_cpt_trains_on_the_continued_pretrained_model(repo, tmp_path):
    cwd = workflow_copy(repo, tmp_path)
    config = yaml.safe_load((repo / "config.yaml").read_text())
    config["mixture"]["x_recipes"] = ["coit", "cpt"]
    config["mixture"]["monolingual"] = {}
    for lang in config["languages"]:
        (cwd / f"mc4.{lang}.txt").write_text("a document\n" * 3)
        config["mixture"]["monolingual"][lang] = f"mc4.{lang}.txt"
    (cwd / "cpt.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "results/models/cpt/ar/10000", "--configfile", "cpt.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    assert counts["train_model"] == 2 and counts["subset_monolingual"] == 1  # cpt-mono, then cpt
    assert "results/models/cpt-mono/ar/10000" in run.stdout


def test_figure7_reads_mc4_chinese_and_plots_cpt_against_coit(repo, tmp_path):
    cwd = workflow_copy(repo, tmp_path)
    config = yaml.safe_load((repo / "config.yaml").read_text())
    config["mixture"]["x_recipes"] = ["coit", "cpt"]
    config["mixture"]["monolingual"] = {lang: f"mono.{lang}.txt" for lang in config["languages"]}
    config["mixture"]["monolingual"]["zh"] = "c4-zh.tfrecord-00000-of-01024.json.gz"  # a file of sources.yaml
    for lang in config["languages"]:
        (cwd / f"mono.{lang}.txt").write_text("a document\n")
    (cwd / "cpt.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "-p", "results/monolingual/zh/scale-10000.jsonl", "--configfile", "cpt.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    assert job_counts(run.stdout) == {"download_file": 1, "subset_monolingual": 1, "total": 2}
    assert "results/downloads/c4-zh.tfrecord-00000-of-01024.json.gz" in run.stdout
    assert "--sources workflow/sources.yaml --lock workflow/sources.lock" in run.stdout  # verified when read
    run = snakemake("-n", "all", "--configfile", "cpt.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    assert job_counts(run.stdout)["plot_cpt"] == 1 and "results/plots/cpt_vs_coit.png" in run.stdout


def write_authors_bundle(root: Path, langs: list[str]) -> Path:
    """A tiny bundle in the authors' released layout (authors-setup.yaml: released_data_bundle)."""
    for lang in ["en", *langs]:
        alpaca = [{"instruction": f"{lang} instruction", "input": "", "output": f"{lang} output"}]
        (root / "alpaca").mkdir(parents=True, exist_ok=True)
        (root / "alpaca" / f"alpaca_{lang}.json").write_text(json.dumps(alpaca))
    for lang in langs:
        pairs = root / "translation" / "ncwm" / f"en-{lang}"
        pairs.mkdir(parents=True)
        (pairs / "train.en").write_text("A sentence.\n")
        (pairs / f"train.{lang}").write_text("Une phrase.\n")
        (root / "mieval").mkdir(exist_ok=True)
        (root / "mieval" / f"{lang}.jsonl").write_text(json.dumps({"instruction": "Why?", "input": ""}) + "\n")
    return root


def test_the_authors_bundle_gives_alpaca_x_and_the_pairs(repo, tmp_path):
    cwd = workflow_copy(repo, tmp_path)
    config = yaml.safe_load((repo / "config.yaml").read_text())
    write_authors_bundle(cwd / "bundle", config["languages"])
    config["data"]["authors_bundle"] = "bundle"
    (cwd / "bundle.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/corpora/ar/manifest.json", "results/alpaca/translated/ar.json"]
    run = snakemake("-n", "-p", *targets, "--configfile", "bundle.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    assert "--line-aligned ncwm=bundle/translation/ncwm/en-ar/train.en" in run.stdout
    assert "--backend import" in run.stdout and "--import-file bundle/alpaca/alpaca_ar.json" in run.stdout
    # no parallel corpus is downloaded (only Alpaca-En and FLORES, for the contamination filter)
    assert "WikiMatrix" not in run.stdout and "News-Commentary" not in run.stdout
    assert counts["prepare_corpus"] == 1 and "download_hf_model" not in counts  # no NLLB model either
    config["data"]["authors_bundle"] = "no-such-dir"
    (cwd / "bad.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "--configfile", "bad.yaml", cwd=cwd)
    assert run.returncode != 0 and "data.authors_bundle: no-such-dir: no such directory" in run.stderr


def judge_config(repo: Path, endpoint: str, **mixture) -> dict:
    config = yaml.safe_load((repo / "tests" / "config.test.yaml").read_text())
    config["preload_imports"] = False
    config["eval"]["judge"] = {
        "endpoint": endpoint,
        "model": "fake-judge",
        "api_key_env": "XLLM_TEST_JUDGE",
        "limit": 2,
    }
    config["mixture"].update(mixture)
    return config


def test_the_judge_is_planned_for_every_qa_model_and_off_by_default(repo, tmp_path):
    cwd = workflow_copy(repo, tmp_path, repo / "tests" / "config.test.yaml")
    run = snakemake("-n", "--configfile", "config.test.yaml", cwd=cwd)
    assert run.returncode == 0 and "judge_model" not in job_counts(run.stdout)
    assert "plot_ablation" not in job_counts(run.stdout)
    config = judge_config(repo, "http://127.0.0.1:9/v1", ablations=["abl-alpaca-x", "abl-alpaca-en-x"])
    (cwd / "judge.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "--configfile", "judge.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    # every model with a QA test set (not the budget models: FLORES only), ablations included
    assert counts["judge_model"] == 1 + 2 * 3 + 1 + 2 and counts["plot_ablation"] == 1
    assert "results/scores/judge/ablation/far/abl-alpaca-x.csv" in run.stdout


def test_the_judge_rule_scores_against_an_openai_compatible_server(repo, tmp_path):
    """A real run of judge_model alone, on prepared generations, against a local fake judge."""
    from helpers.fake_judge import KEY, Handler, fake_judge
    from xllm import config as xllm_config
    from xllm.plan import Grid

    cwd = workflow_copy(repo, tmp_path)
    with fake_judge() as endpoint:
        config = judge_config(repo, endpoint)
        (cwd / "judge.yaml").write_text(yaml.safe_dump(config))
        prepared = xllm_config.prepare(json.loads(json.dumps(config)), repo / "workflow/schemas/config.schema.yaml")
        plan = Grid(prepared).eval_plan("alpaca-en")
        (cwd / "results/plans").mkdir(parents=True)
        (cwd / "results/plans/alpaca-en.json").write_text(json.dumps(plan))
        for item in plan:
            if "testset" not in item:
                continue
            lang = item["lang"]
            squad = {
                "data": [
                    {
                        "title": "t",
                        "paragraphs": [
                            {
                                "context": f"Paris is in France ({lang}).",
                                "qas": [
                                    {
                                        "id": f"{lang}{i}",
                                        "question": f"Q{i}?",
                                        "answers": [{"text": "Paris", "answer_start": 0}],
                                    }
                                    for i in range(3)
                                ],
                            }
                        ],
                    }
                ]
            }
            testset = cwd / item["testset"]
            testset.parent.mkdir(parents=True, exist_ok=True)
            testset.write_text(json.dumps(squad))
            gen = cwd / "results/generations/alpaca-en" / item["task"] / f"{item['direction']}.jsonl"
            gen.parent.mkdir(parents=True, exist_ok=True)
            answers = ["Paris", "London", "France"]
            gen.write_text(
                "".join(
                    json.dumps({"id": f"{lang}{i}", "prediction": a, "reference": ["Paris"]}) + "\n"
                    for i, a in enumerate(answers)
                )
            )
        run = subprocess.run(
            [
                str(BIN / "snakemake"),
                "results/scores/judge/alpaca-en.csv",
                "--cores",
                "1",
                "--configfile",
                "judge.yaml",
                "--allowed-rules",
                "judge_model",
            ],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "XLLM_TEST_JUDGE": KEY},
        )
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        requests = len(Handler.requests)
    rows = list(csv.DictReader(open(cwd / "results/scores/judge/alpaca-en.csv", encoding="utf-8")))
    langs = [i["lang"] for i in plan if "testset" in i]
    assert sorted(r["direction"] for r in rows) == sorted(langs) and "en" in langs
    for r in rows:  # the first 2 questions (eval.judge.limit): Paris yes, London no
        assert (r["metric"], r["n"], float(r["value"])) == ("judge", "2", 50.0)
        assert r["signature"].startswith("judge-qa|model:fake-judge")
    assert requests == 2 * len(langs) and all(b["model"] == "fake-judge" for b in Handler.requests)
    assert (cwd / "results/scores/judge/alpaca-en.segments.npz").exists()
    assert KEY not in (cwd / "results/logs/judge_model/alpaca-en.log").read_text()


def test_mieval_from_the_bundle_is_generated_judged_both_ways_and_plotted(repo, tmp_path):
    """Planned only with the bundle's MI-Eval files and the judge; then a real run of the judge rule."""
    from helpers.fake_judge import KEY, Handler, fake_judge

    cwd = workflow_copy(repo, tmp_path, repo / "tests" / "config.test.yaml")
    config = judge_config(repo, "http://127.0.0.1:9/v1")
    write_authors_bundle(cwd / "bundle", config["languages"])
    config["data"]["authors_bundle"] = "bundle"
    (cwd / "mieval.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "--configfile", "mieval.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    assert counts["prepare_mieval"] == counts["judge_mieval"] == 2 and counts["plot_mieval"] == 1
    plan = snakemake("-n", "-p", "results/plans/muit/400.json", "--configfile", "mieval.yaml", cwd=cwd)
    assert "results/testsets/mieval/near.jsonl" in plan.stdout and "results/testsets/mieval/far.jsonl" in plan.stdout
    (cwd / "bundle/mieval/far.jsonl").unlink()  # no file, no MI-Eval for that language
    run = snakemake("-n", "--configfile", "mieval.yaml", cwd=cwd)
    assert job_counts(run.stdout)["judge_mieval"] == 1

    with fake_judge() as endpoint:
        config["eval"]["judge"]["endpoint"] = endpoint
        (cwd / "mieval.yaml").write_text(yaml.safe_dump(config))
        questions = cwd / "results/testsets/mieval/near.jsonl"
        questions.parent.mkdir(parents=True)
        questions.write_text(
            "".join(json.dumps({"id": str(i), "instruction": f"Q{i}", "input": ""}) + "\n" for i in range(4))
        )
        for model, answers in (
            ("coit/near/400", ["good", "bad", "good", "bad"]),
            ("muit/400", ["good", "good", "bad", "good"]),
        ):
            gen = cwd / "results/generations" / model / "mieval" / "near.jsonl"
            gen.parent.mkdir(parents=True)
            gen.write_text(
                "".join(
                    json.dumps({"id": str(i), "prediction": a, "reference": ""}) + "\n" for i, a in enumerate(answers)
                )
            )
        run = subprocess.run(
            [str(BIN / "snakemake"), "results/mieval/near.json", "--cores", "1", "--configfile", "mieval.yaml"]
            + ["--allowed-rules", "judge_mieval"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "XLLM_TEST_JUDGE": KEY},
        )
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        # both answer orders of each instruction; item 0's two orders are one prompt (same answers), asked once
        assert len(Handler.requests) == 7
    result = json.loads((cwd / "results/mieval/near.json").read_text())
    # a = the x-model, b = the m-model: m wins items 1 and 3, x wins item 2, a tie on item 0
    assert (result["n"], result["b_wins"], result["a_wins"], result["ties"]) == (4, 2, 1, 1)


@pytest.fixture(scope="module")
def demo_run(repo, tmp_path_factory):
    """The whole DAG on tests/config.test.yaml, in a fresh directory, as the README runs it."""
    cwd = workflow_copy(repo, tmp_path_factory.mktemp("demo"), repo / "tests" / "config.test.yaml")
    run = snakemake("--cores", "2", "--configfile", "config.test.yaml", cwd=cwd, timeout=1800)
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    return cwd, run, yaml.safe_load((cwd / "config.test.yaml").read_text())


def read_scores(cwd: Path) -> list[dict]:
    with open(cwd / "results" / "scores.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_demo_scores_cover_every_model_task_and_metric(demo_run):
    cwd, _, config = demo_run
    rows = read_scores(cwd)
    assert list(rows[0]) == [
        "model",
        "recipe",
        "lang",
        "scale",
        "budget",
        "alloc",
        "task",
        "direction",
        "metric",
        "value",
        "n",
        "ci_low",
        "ci_high",
        "signature",
    ]
    langs, scales = config["languages"], [str(s) for s in config["scales"]]
    models = {"alpaca-en", f"muit/{config['muit_scale']}"}
    models |= {f"coit/{lang}/{scale}" for lang in langs for scale in scales}
    models |= {f"muit-budget/{b}/{a}" for b in config["budgets"] for a in ("uniform", "optimized")}
    assert {r["model"] for r in rows} == models
    for lang in langs:
        for direction in (f"en-{lang}", f"{lang}-en"):
            got = {
                r["metric"] for r in rows if r["model"] == f"coit/{lang}/{scales[0]}" and r["direction"] == direction
            }
            assert got == {"bleu", "chrf"}, (lang, direction)
        qa = {r["metric"] for r in rows if r["model"] == "alpaca-en" and r["task"] == "xquad" and r["lang"] == lang}
        assert {"em", "f1", "contains"} <= qa
    for r in rows:
        assert 0 <= float(r["value"]) <= 100 and float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"])
        assert int(r["n"]) == config["generate"]["limit"] or r["task"] == "xquad"
        assert r["signature"]


@pytest.mark.slow
def test_demo_scaling_laws_fit_the_measured_points(demo_run):
    cwd, _, config = demo_run
    fits = {lang: json.loads((cwd / f"results/scaling/{lang}.json").read_text()) for lang in config["languages"]}
    for lang, fit in fits.items():
        assert fit["ok"] and -1 < fit["beta"] < 0 and fit["alpha"] > 0, fit
        points = sorted((p["pairs"], p["score"]) for p in fit["points"])
        assert [p for p, _ in points] == [float(s) for s in config["scales"]]
        assert points[-1][1] > points[0][1], f"{lang}: score does not rise with scale: {points}"
        assert fit["provenance"]["config_hash"]
        scores = {
            r["model"]: float(r["value"])
            for r in read_scores(cwd)
            if r["direction"] == f"en-{lang}" and r["metric"] == config["scaling"]["metric"]
        }
        assert [score for _, score in points] == [
            pytest.approx(scores[f"coit/{lang}/{s}"], abs=1e-3) for s in config["scales"]
        ]
    # The more distant language (by construction: xllm.demo.synthetic) gets the lower curve.
    distance = {lang: LanguageSpec(code=lang, **config["demo"]["languages"][lang]).distance() for lang in fits}
    near, far = min(fits, key=distance.get), max(fits, key=distance.get)
    curves = [sorted((p["pairs"], p["score"]) for p in fits[lang]["points"]) for lang in (near, far)]
    for (scale, s_near), (_, s_far) in zip(*curves):
        assert s_far < s_near, f"at {scale} pairs {far} ({s_far}) is not below {near} ({s_near})"
    # ...because the base model learned to copy in pre-training (what translating builds on).
    record = json.loads((cwd / "results/demo/base-model" / RECORD).read_text())
    assert record["copies"] and record["rounds"][-1]["copy_nll"] <= record["threshold"]


@pytest.mark.slow
def test_demo_allocation_and_tables(demo_run):
    cwd, _, config = demo_run
    for name, budget in config["budgets"].items():
        alloc = json.loads((cwd / f"results/allocation/{name}.json").read_text())
        assert sum(alloc["allocation"].values()) == budget
        assert sum(alloc["uniform"]["allocation"].values()) == budget
        assert all(0 <= alloc["allocation"][lang] <= config["max_pairs"][lang] for lang in config["languages"])
        table = (cwd / "results/tables/allocation.md").read_text()
        for kind in ("uniform", "optimized"):
            row = next(line for line in table.splitlines() if line.startswith(f"| {name} ") and f"| {kind} |" in line)
            pairs = alloc["allocation"] if kind == "optimized" else alloc["uniform"]["allocation"]
            for lang in config["languages"]:
                assert str(pairs[lang]) in row
    stats = (cwd / "results/tables/corpus_stats.md").read_text()
    for lang in config["languages"]:
        manifest = json.loads((cwd / f"results/corpora/{lang}/manifest.json").read_text())
        assert str(manifest["pairs"]) in stats and config["custom_languages"][lang]["name"] in stats
    summary = (cwd / "results/tables/scores_summary.md").read_text()
    assert "muit-budget/" in summary and "coit/" in summary


@pytest.mark.slow
def test_demo_plots_report_and_locations(demo_run):
    cwd, run, _ = demo_run
    for name in ("scaling_laws", "x_vs_m", "allocation", "alignment"):
        data = (cwd / f"results/plots/{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    report = (cwd / "results/report.html").read_text(errors="replace")
    assert "scaling_laws.png" in report and "allocation.md" in report
    assert "xllm results:" in run.stdout + run.stderr and "results/report.html" in run.stdout + run.stderr
    for bench in ("train_model", "generate_model", "score_model"):
        assert list((cwd / "results/benchmarks" / bench).rglob("*.tsv")), bench
    cost = (cwd / "results/tables/cost.md").read_text()  # estimated beside measured, every job measured
    assert re.search(r"\| train_model \| (\d+) \| \1 \| wall hours \|", cost), cost


# ---------------------------------------------------------------- reruns after a config edit

AGGREGATES = {
    "gather_scores",
    "tabulate_allocation",
    "plot_x_vs_m",
    "plot_allocation",
    "summarize_scores",
    "estimate_cost",
}
AFTER_FITS = {"fit_scaling_law", "allocate_budget", "plot_scaling_laws"}
# The optimized budget split comes from the fits: its model is retrained when the fits may change.
OPTIMIZED = {"build_mixture", "tokenize_mixture", "train_model", "generate_model", "score_model"}


def _add_mid(c):
    c["languages"].append("mid")
    c["max_pairs"]["mid"] = 900


RERUNS = [
    ("eval.bootstrap", lambda c: c["eval"].update(bootstrap=300), AGGREGATES, {}),
    (
        "scaling.bootstrap",
        lambda c: c["scaling"].update(bootstrap=300),
        AGGREGATES | AFTER_FITS | OPTIMIZED,
        {"train_model": 1},
    ),
    (
        "generate.max_new_tokens",
        lambda c: c["generate"].update(max_new_tokens=24),
        {"generate_model", "score_model"} | AGGREGATES | AFTER_FITS | OPTIMIZED,
        {"train_model": 1},
    ),
    (
        "new budget",
        lambda c: c["budgets"].update(big=800),
        {
            "allocate_budget",
            "split_budget_uniform",
            "build_mixture",
            "tokenize_mixture",
            "train_model",
            "plan_evaluation",
            "generate_model",
            "score_model",
        }
        | AGGREGATES,
        {"train_model": 2, "tokenize_mixture": 2, "allocate_budget": 1},
    ),
    (
        # the tokens change: every mixture is tokenized again, none rebuilt but the optimized
        # split's; the demo's base is pre-trained at that length too (and measured again)
        "train.max_seq_length",
        lambda c: c["train"].update(max_seq_length=200),
        {"pretrain_demo_base", "measure_similarity", "tokenize_mixture", "train_model", "generate_model", "score_model"}
        | AGGREGATES
        | AFTER_FITS
        | OPTIMIZED
        | {"analyze_alignment", "plot_alignment"},
        {"tokenize_mixture": 10, "train_model": 10, "build_mixture": 1},
    ),
    (
        "train.learning_rate",
        lambda c: c["train"].update(learning_rate=2e-3),
        {"train_model", "generate_model", "score_model"}
        | AGGREGATES
        | AFTER_FITS
        | OPTIMIZED
        | {"analyze_alignment", "plot_alignment"},
        {"train_model": 10},
    ),
    ("checkpoint_every (runtime only)", lambda c: c["train"].update(checkpoint_every=7), set(), {}),
]


@pytest.mark.slow
@pytest.mark.parametrize("edit, expected, counts", [r[1:] for r in RERUNS], ids=[r[0] for r in RERUNS])
def test_a_config_edit_reruns_exactly_the_jobs_it_affects(demo_run, edit, expected, counts):
    cwd, _, config = demo_run
    edited = json.loads(json.dumps(config))
    edit(edited)
    path = cwd / "config.test.yaml"  # edited in place, as a user would
    original = path.read_text()
    try:
        path.write_text(yaml.safe_dump(edited))
        run = snakemake("-n", "--configfile", "config.test.yaml", cwd=cwd)
    finally:
        path.write_text(original)
    assert run.returncode == 0, run.stderr[-3000:]
    planned = job_counts(run.stdout) if "Job stats:" in run.stdout else {}
    assert set(planned) - {"all", "total"} == expected, run.stdout[-3000:]
    for rule, n in counts.items():
        assert planned[rule] == n, (rule, planned)


@pytest.mark.slow
def test_a_new_language_trains_only_the_models_that_include_it(demo_run):
    cwd, _, config = demo_run
    edited = json.loads(json.dumps(config))
    _add_mid(edited)
    (cwd / "edited.yaml").write_text(yaml.safe_dump(edited))
    run = snakemake("-n", "--configfile", "edited.yaml", cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    planned = job_counts(run.stdout)
    trained = set(re.findall(r"output: results/models/(\S+)", run.stdout))
    scales = [str(s) for s in config["scales"]]
    assert trained == (
        {f"coit/mid/{s}" for s in scales}
        | {f"muit/{config['muit_scale']}"}
        | {f"muit-budget/{b}/{a}" for b in config["budgets"] for a in ("uniform", "optimized")}
    )
    assert planned["fit_scaling_law"] == 1 and planned["translate_alpaca"] == config["translate"]["shards"]
    assert not {"make_demo_data", "make_demo_base", "pretrain_demo_base"} & set(planned)


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_cores(demo_run, repo, tmp_path_factory):
    """A job's threads are fixed by its rule, not by what the scheduler has free (demo_run: --cores 2)."""
    cwd2, _, config = demo_run
    cwd1 = workflow_copy(repo, tmp_path_factory.mktemp("cores1"), repo / "tests" / "config.test.yaml")
    run = snakemake("--cores", "1", "--configfile", "config.test.yaml", cwd=cwd1, timeout=1800)
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    keep = ("model", "task", "direction", "metric", "value", "n", "ci_low", "ci_high")
    rows = [sorted(tuple(r[k] for k in keep) for r in read_scores(cwd)) for cwd in (cwd1, cwd2)]
    assert rows[0] == rows[1]
    for lang in config["languages"]:
        fits = [json.loads((cwd / f"results/scaling/{lang}.json").read_text()) for cwd in (cwd1, cwd2)]
        assert [(f["alpha"], f["beta"], f["points"]) for f in fits[0:1]] == [
            (f["alpha"], f["beta"], f["points"]) for f in fits[1:2]
        ]
