"""The workflow as code: formatting, lint, planning the paper's grid, config errors, and the whole
demo DAG on tests/config.test.yaml with the contents of every final output checked."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent


def snakemake(*args, cwd, timeout=600):
    return subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


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
    assert counts["train_model"] == n_models
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
