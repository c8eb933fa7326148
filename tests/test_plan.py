"""Config -> plan (xllm.plan, xllm.config): models, per-model plans, per-job settings, config checks."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from xllm import config as xllm_config
from xllm.args import add_settings_arguments, output_settings, settings_from_args
from xllm.data.sources import load_sources
from xllm.errors import UserError
from xllm.generate.engine import Settings
from xllm.mixture.recipes import model_id, parse_model_id
from xllm.plan import Grid, Jobs, settings_json
from xllm.train.loop import TrainConfig

SCHEMA = "workflow/schemas/config.schema.yaml"


@pytest.fixture
def test_config(repo, monkeypatch):
    monkeypatch.chdir(repo)
    config = yaml.safe_load((repo / "tests" / "config.test.yaml").read_text())
    return xllm_config.prepare(config, SCHEMA)


def prepared(config: dict) -> dict:
    return xllm_config.prepare(copy.deepcopy(config), SCHEMA)


def test_grid_enumerates_the_models_of_the_config(test_config):
    grid = Grid(test_config)
    assert grid.x_models("near") == ["coit/near/100", "coit/near/200", "coit/near/400"]
    assert grid.m_models() == ["muit/400"]
    assert grid.budget_models() == ["muit-budget/small/uniform", "muit-budget/small/optimized"]
    assert len(grid.all_models()) == 1 + 6 + 1 + 2
    assert grid.scaling_models("far") == ["coit/far/100", "coit/far/200", "coit/far/400"]
    assert grid.recipe_model("muit") == "muit/400" and grid.recipe_model("alpaca-en") == "alpaca-en"


def test_mixture_and_evaluation_plans(test_config):
    grid = Grid(test_config)
    plan = grid.mixture_plan("coit/far/200")
    assert plan["langs"] == ["far"] and plan["pairs"] == {"far": "results/corpora/far/scale-200.jsonl"}
    assert set(plan["alpaca"]) == {"en", "far"}
    assert grid.mixture_plan("alpaca-en")["langs"] == []  # English Alpaca only: no language in it
    assert grid.mixture_plan("muit-budget/small/optimized")["allocation"] == "results/allocation/small.json"
    # the uniform split needs no fit, so its models do not wait for (or change with) the scaling laws
    assert grid.mixture_plan("muit-budget/small/uniform")["allocation"] == "results/allocation/small/uniform.json"
    items = grid.eval_plan("muit/400")
    assert {(i["task"], i["direction"]) for i in items} == {
        ("flores", "en-near"),
        ("flores", "near-en"),
        ("xquad", "near"),
        ("flores", "en-far"),
        ("flores", "far-en"),
        ("xquad", "far"),
        ("xquad", "en"),  # eval.english_qa: Tables 2 and 6's en column
    }
    assert {i["task"] for i in grid.eval_plan("muit-budget/small/uniform")} == {"flores"}
    # one language's x-models are not evaluated in English (they share a row of the tables)
    assert {i["lang"] for i in grid.eval_plan("coit/far/200")} == {"far"}
    assert ("xquad", "en") in {(i["task"], i["direction"]) for i in grid.eval_plan("alpaca-en")}


def test_english_qa_covers_mlqa_en_en_where_configured_and_can_be_turned_off(test_config):
    config = copy.deepcopy(test_config)
    config["eval"].update(tasks=["flores", "xquad", "mlqa"], mlqa_settings=["near-near", "en-en"])
    english = [i for i in Grid(config).eval_plan("alpaca-en") if i["lang"] == "en"]
    assert [(i["task"], i["direction"], i["testset"]) for i in english] == [
        ("xquad", "en", "results/testsets/xquad/en.json"),
        ("mlqa", "en-en", "results/testsets/mlqa/en-en.json"),
    ]
    config["eval"]["english_qa"] = False
    assert not [i for i in Grid(config).eval_plan("alpaca-en") if i["lang"] == "en"]


def test_recipes_drive_model_ids_whatever_their_names(test_config, tmp_path):
    recipes = yaml.safe_load(open(test_config["mixture"]["recipes"]).read())
    renamed = {
        "base-en": recipes["alpaca-en"],
        "xtune": recipes["coit"],
        "mtune": recipes["muit"],
        "btune": recipes["muit-budget"],
    }
    path = tmp_path / "recipes.yaml"
    path.write_text(yaml.safe_dump(renamed))
    config = copy.deepcopy(test_config)
    config["mixture"].update(
        recipes=str(path), x_recipes=["xtune"], m_recipes=["mtune"], budget_recipes=["btune"], baselines=["base-en"]
    )
    config["scaling"]["alignment_models"] = ["base-en", "mtune"]
    grid = Grid(prepared(config))
    assert grid.all_models() == [
        "base-en",
        "xtune/near/100",
        "xtune/near/200",
        "xtune/near/400",
        "xtune/far/100",
        "xtune/far/200",
        "xtune/far/400",
        "mtune/400",
        "btune/small/uniform",
        "btune/small/optimized",
    ]
    for model in grid.all_models():
        meta = parse_model_id(model, grid.recipes)
        assert model_id(grid.recipes[meta.recipe], meta.lang, meta.scale, meta.budget, meta.alloc) == model
    assert grid.mixture_plan("mtune/400")["langs"] == ["near", "far"]
    assert grid.recipe_model("mtune") == "mtune/400"
    with pytest.raises(UserError, match="scope m"):
        parse_model_id("mtune/near/100", grid.recipes)


def _jobs(config):
    grid = Grid(config)
    return Jobs(grid, load_sources(config["data"]["sources"]))


def test_job_settings_hold_only_what_determines_the_output(test_config):
    base = _jobs(test_config)
    wider = copy.deepcopy(test_config)
    wider["languages"].append("mid")
    wider["max_pairs"]["mid"] = 900
    wider["budgets"]["big"] = 800
    wider["eval"]["bootstrap"] = 999
    wider["train"]["checkpoint_every"] = 3
    wider = _jobs(prepared(wider))
    for rule, key in [
        ("build_mixture", "coit/near/100"),
        ("build_mixture", "alpaca-en"),
        ("train_model", "coit/near/100"),
        ("tokenize_mixture", "coit/near/100"),
        ("generate_model", "coit/far/400"),
        ("score_model", "coit/far/400"),
        ("prepare_corpus", "near"),
        ("translate_alpaca", "far"),
    ]:
        assert getattr(base, rule)(key) == getattr(wider, rule)(key), (rule, key)
    assert base.build_mixture("muit/400") != wider.build_mixture("muit/400")  # it holds the new language
    lr = copy.deepcopy(test_config)
    lr["train"]["learning_rate"] = 1e-4
    assert _jobs(prepared(lr)).train_model("coit/near/100")["learning_rate"] == 1e-4
    assert _jobs(prepared(lr)).tokenize_mixture("coit/near/100") == base.tokenize_mixture("coit/near/100")
    train = base.train_model("x")
    assert train["threads"] == test_config["train"]["cpus_per_task"] and train["seed"] == test_config["seed"]
    assert "checkpoint_every" not in train and "metrics_file" not in train  # runtime only
    assert json.loads(settings_json(train)) == train


def test_empty_sections_get_the_schema_defaults(repo, monkeypatch):
    monkeypatch.chdir(repo)
    config = yaml.safe_load((repo / "config.yaml").read_text())
    config["generate"] = {}
    config["scaling"] = {"metric": "comet"}
    out = prepared(config)
    assert out["generate"]["threads"] == 1 and out["scaling"]["task"] == "flores"
    assert Jobs(Grid(out), {}).generate_model("coit/ar/10000")["max_new_tokens"] == Settings.max_new_tokens


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["scaling"].update(metric="comet"), "scaling.metric: 'comet' is not one of eval.mt_metrics"),
        (lambda c: c.update(muit_scale=5000), "muit_scale: 5000 is over max_pairs.near"),
        (lambda c: c["scaling"].update(alignment_models=["nope"]), "scaling.alignment_models: 'nope'"),
        (lambda c: c["mixture"].update(x_recipes=["muit"]), "recipe 'muit' has scope 'm', not 'x'"),
        (lambda c: c["mixture"].update(x_recipes=["coit", "cpt"]), "mixture.monolingual: no text file for near"),
        (lambda c: c["eval"].update(tasks=["xquad"]), "scaling.task: 'flores' is not one of eval.tasks"),
        (lambda c: c["eval"].update(mt_metrics=["bleu", "comet"]), "eval.comet_model: needed by the comet metric"),
        (lambda c: c["generate"].update(qa_prompts="authors"), "generate.qa_prompts: 'authors', but the demo's"),
    ],
)
def test_cross_key_mistakes_are_refused_before_any_job(test_config, edit, message):
    config = copy.deepcopy(test_config)
    edit(config)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(".", r"\.")):
        prepared(config)


def test_a_yaml_mistake_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 1\nlanguages: [ar\nscales: [1]\n")
    with pytest.raises(UserError, match=r"bad\.yaml:3:\d+: not valid YAML"):
        xllm_config.load_yaml(path)


def test_settings_come_from_json_and_flags_with_each_default_declared_once():
    import argparse

    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, TrainConfig)
    args = parser.parse_args(
        [
            "--base",
            "b",
            "--data",
            "d",
            "--out",
            "o",
            "--checkpoint-dir",
            "c",
            "--settings",
            '{"epochs": 2, "packing": true}',
            "--epochs",
            "5",
            "--no-packing",
        ]
    )
    cfg = settings_from_args(args, TrainConfig)
    assert cfg.epochs == 5 and cfg.packing is False and cfg.learning_rate == TrainConfig.learning_rate
    with pytest.raises(UserError, match="unknown setting"):
        settings_from_args(parser.parse_args(["--settings", '{"epoch": 2}']), TrainConfig)
    with pytest.raises(UserError, match="missing --base"):
        settings_from_args(parser.parse_args([]), TrainConfig)
    assert output_settings(TrainConfig, {"epochs": 1})["epochs"] == 1


def test_check_config_names_the_file_and_line_of_a_yaml_mistake(repo, monkeypatch, tmp_path, capsys):
    from xllm.cli import main

    monkeypatch.chdir(repo)
    assert main(["check-config", "config.yaml"]) == 0
    assert "config.yaml: ok (6 languages" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nlanguages: [ar\n  scales: [1]\n")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{bad}:3:" in err and "not valid YAML" in err and "\n" not in err
    edited = yaml.safe_load((repo / "tests" / "config.test.yaml").read_text())
    edited["scaling"]["metric"] = "comet"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(edited))
    assert main(["check-config", str(tmp_path / "c.yaml")]) == 2
    assert "scaling.metric: 'comet' is not one of eval.mt_metrics" in capsys.readouterr().err


def test_an_interruption_and_a_stale_lock_are_explained(tmp_path):
    from xllm.workflow_hooks import failure_message, stale_lock_hint

    log = tmp_path / "snakemake.log"
    log.write_text("...\nTerminating processes on user request, this might take some time.\n")
    assert failure_message(str(log)).startswith("xllm: interrupted; run the same command again")
    log.write_text("Error in rule train_model:\n")
    assert failure_message([str(log)]).startswith("xllm: a job failed")
    assert stale_lock_hint(["snakemake"], {}, tmp_path) is None
    (tmp_path / ".snakemake" / "locks").mkdir(parents=True)
    (tmp_path / ".snakemake" / "locks" / "0.input.lock").write_text("x")
    hint = stale_lock_hint(["snakemake", "all"], {}, tmp_path)
    assert "--unlock" in hint and "then the same command again" in hint
    assert stale_lock_hint(["snakemake", "--unlock"], {}, tmp_path) is None  # the unlock run itself
    assert stale_lock_hint(["snakemake"], {"SLURM_JOB_ID": "7"}, tmp_path) is None  # a cluster job
