"""`xllm estimate`: token counts from a small config agree with hand arithmetic; throughput scales
hours; unknown sizes fall back with a label; tokens per example are measured when a tokenizer is local."""

import copy
import json

import pytest
import yaml

from xllm.cli import main
from xllm.config import schema_errors
from xllm.estimate.cost import estimate, grid_models, parse_size, with_defaults

TPE = {
    "alpaca": {"template": 10, "content": 20},
    "pair": {"template": 5, "content": 3},
    "monolingual": {"template": 0, "content": 50},
    "flores": {"template": 4, "content": 6},
    "qa": {"template": 2, "content": 30},
}


@pytest.fixture
def config(repo):
    return {
        "languages": ["zh", "hi"],
        "base_model": "org/model-7b",
        "scales": [10, "full"],
        "muit_scale": "full",
        "budgets": {"b": 40},
        "allocations": ["uniform"],
        "max_pairs": {"zh": 30, "hi": 15},
        "mixture": {
            "recipes": str(repo / "workflow/recipes.yaml"),
            "x_recipes": ["coit"],
            "m_recipes": ["muit"],
            "baselines": ["alpaca-en"],
            "ablations": ["abl-en-x"],
            "ablation_lang": "zh",
        },
        "translate": {"backend": "hf-seq2seq", "model": "org/nllb-600M", "shards": 2, "gpus": 1},
        "train": {"epochs": 2, "max_seq_length": 512, "nodes": 1, "gpus_per_node": 8},
        "generate": {"max_new_tokens": 100, "gpus": 1, "limit": None},
        "eval": {"tasks": ["flores", "xquad", "mlqa"], "flores_split": "devtest", "mlqa_settings": ["en-zh", "zh-zh"]},
        "estimate": {
            "alpaca_examples": 11,
            "tokens_per_example": TPE,
            "language_factor": {"zh": 2, "hi": 4},
            "qa_answer_tokens": 3,
            "test_set_sizes": {"flores": {"dev": 5, "devtest": 7}, "xquad": 9, "mlqa": {"zh": 13, "en": 99}},
            "throughput": {"7B": {"train": 100, "generate": 10, "translate": 50}, "600M": {"translate": 20}},
        },
    }


def _jobs(result, rule):
    return {r["job"]: r for r in result["jobs"] if r["rule"] == rule}


def test_token_counts_agree_with_hand_arithmetic(config):
    result = estimate(config)
    train = _jobs(result, "train_model")
    assert list(train) == [
        "alpaca-en",
        "coit/zh/10",
        "coit/zh/full",
        "coit/hi/10",
        "coit/hi/full",
        "muit/full",
        "muit-budget/b/uniform",
        "ablation/zh/abl-en-x",
    ]

    def alpaca(f):  # template + content x language factor
        return 10 + 20 * f

    def pair(f):
        return 5 + 3 * f

    assert train["alpaca-en"]["tokens"] == 2 * 11 * alpaca(1)
    assert train["coit/zh/10"]["tokens"] == 2 * (11 * alpaca(1) + 11 * alpaca(2) + 10 * pair(2))
    assert train["coit/zh/full"]["tokens"] == 2 * (11 * alpaca(1) + 11 * alpaca(2) + 30 * pair(2))  # max_pairs
    assert train["coit/hi/full"]["tokens"] == 2 * (11 * alpaca(1) + 11 * alpaca(4) + 15 * pair(4))
    assert train["muit/full"]["tokens"] == 2 * (
        11 * alpaca(1) + 11 * (alpaca(2) + alpaca(4)) + 30 * pair(2) + 15 * pair(4)
    )
    # the budget split evenly: 20 pairs each, hi capped at its 15
    assert train["muit-budget/b/uniform"]["tokens"] == 2 * (
        11 * alpaca(1) + 11 * (alpaca(2) + alpaca(4)) + 20 * pair(2) + 15 * pair(4)
    )
    assert train["ablation/zh/abl-en-x"]["tokens"] == 2 * 30 * pair(2)
    row = train["coit/zh/10"]
    assert row["gpus"] == 8 and row["gpu_hours"] == pytest.approx(row["tokens"] / 100 / 3600, abs=1e-3)
    assert row["flops_6nt"] == pytest.approx(6 * 7e9 * row["tokens"], rel=1e-3)
    tokenize = _jobs(result, "tokenize_mixture")
    assert list(tokenize) == list(train)  # one tokenize job per model, over its mixture once
    assert all(tokenize[m]["tokens"] == pytest.approx(train[m]["tokens"] / 2, abs=1) for m in train)
    assert tokenize["coit/zh/10"]["gpus"] == 0 and tokenize["coit/zh/10"]["wall_s"] == pytest.approx(
        tokenize["coit/zh/10"]["tokens"] / 900000, abs=0.1
    )

    gen = _jobs(result, "generate_model")

    def flores(src, tgt):  # prompt + expected output
        return 7 * (4 + 6 * src + 6 * tgt)

    def qa(n, f):
        return n * (2 + 30 * f + 3)

    assert gen["coit/zh/10"]["tokens"] == flores(1, 2) + flores(2, 1) + qa(9, 2) + qa(13, 1) + qa(13, 2)
    assert gen["muit-budget/b/uniform"]["tokens"] == flores(1, 2) + flores(2, 1) + flores(1, 4) + flores(4, 1)
    assert gen["coit/zh/10"]["tokens_if_max_new_tokens"] == 14 * (4 + 100) + 7 * 6 + 7 * 12 + 9 * (
        2 + 60 + 100
    ) + 13 * (2 + 30 + 100) + 13 * (2 + 60 + 100)

    tr = _jobs(result, "translate_alpaca")
    assert list(tr) == ["zh/0", "zh/1", "hi/0", "hi/1"]
    assert tr["zh/0"]["examples"] == 6 and tr["zh/1"]["examples"] == 5
    assert tr["hi/0"]["tokens"] == 6 * (20 + 80)
    assert tr["hi/0"]["tokens_per_s_per_gpu"] == 20 and "config estimate.throughput" in tr["hi/0"]["throughput_source"]

    total = sum(r["gpu_hours"] for r in result["jobs"])
    assert result["total_gpu_hours"] == pytest.approx(total, abs=1e-2)
    assert set(result["by_rule"]) == {"tokenize_mixture", "train_model", "generate_model", "translate_alpaca"}
    assert result["by_rule"]["tokenize_mixture"] == 0  # a CPU job
    assert result["tokens_per_example"]["pair"]["source"] == "config estimate.tokens_per_example"


def test_throughput_override_scales_hours(config):
    before = estimate(config)
    faster = copy.deepcopy(config)
    faster["estimate"]["throughput"]["7B"] = {"train": 400, "generate": 10, "translate": 50}
    after = estimate(faster)
    assert after["by_rule"]["train_model"] == pytest.approx(before["by_rule"]["train_model"] / 4, rel=1e-3)
    assert after["by_rule"]["generate_model"] == before["by_rule"]["generate_model"]
    for a, b in zip(before["jobs"], after["jobs"]):
        assert a["tokens"] == b["tokens"]


def test_unknown_model_size_falls_back_with_a_label(config):
    config["base_model"] = "org/mystery-model"
    result = estimate(config)
    row = _jobs(result, "train_model")["alpaca-en"]
    assert row["tokens_per_s_per_gpu"] == 100 and row["throughput_source"].startswith("fallback: model size unknown")
    assert result["flops_sanity"] is None and row["flops_6nt"] is None
    config["base_model"] = "org/llama-70b"
    row = _jobs(estimate(config), "train_model")["alpaca-en"]
    assert row["tokens_per_s_per_gpu"] == pytest.approx(1200 * 13 / 70, abs=0.1)  # the nearest size: defaults' 13B
    assert row["throughput_source"].startswith("fallback: no train figure for 70B; 13B's scaled by parameter count")
    assert parse_size("facebook/nllb-200-distilled-600M") == 6e8 and parse_size("huggyllama/llama-7b") == 7e9


def test_tokens_are_measured_with_a_local_tokenizer(config, tmp_path):
    from xllm.demo.tiny_model import byte_tokenizer

    tok_dir = tmp_path / "tok"
    byte_tokenizer().save_pretrained(tok_dir)
    flores = tmp_path / "flores"
    flores.mkdir()
    (flores / "en.txt").write_text("a cat\nthe dog sat\n")
    (flores / "zh.txt").write_text("一只猫\n狗坐着\n")  # 3 bytes per character: byte tokens
    rows = [
        {"instruction": "Say hi", "input": "", "output": "hi"},
        {"instruction": "Add", "input": "1 2", "output": "3"},
    ]
    (tmp_path / "alpaca.json").write_text(json.dumps(rows))
    config["estimate"].update(tokenizer=str(tok_dir), flores_dir=str(flores), alpaca_file=str(tmp_path / "alpaca.json"))
    result = estimate(config)
    figures = result["tokens_per_example"]
    assert figures["flores"]["content"] == pytest.approx((5 + 11) / 2)
    assert figures["language_factor"]["zh"]["factor"] == pytest.approx(
        round(18 / 16, 3)
    )  # 6 characters of 3 bytes over 16 bytes
    assert figures["language_factor"]["zh"]["source"].startswith("measured")
    assert figures["language_factor"]["hi"]["source"] != figures["language_factor"]["zh"]["source"]
    assert figures["flores"]["source"].startswith("measured") and result["tokens_measured"]["flores"]["sentences"] == 2
    assert figures["alpaca"]["content"] == pytest.approx((len("Say hi hi") + len("Add 1 2 3")) / 2)
    assert figures["alpaca"]["template"] > 20 and figures["alpaca"]["source"].startswith("measured on 2 examples")


def test_cli_writes_cost_json_and_the_schema_takes_the_section(config, tmp_path, repo, capsys):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["estimate", "--config", str(path), "--out", str(tmp_path / "cost.json")]) == 0
    cost = json.loads((tmp_path / "cost.json").read_text())
    assert cost["total_gpu_hours"] > 0 and set(cost["by_rule"]) == {
        "tokenize_mixture",
        "train_model",
        "generate_model",
        "translate_alpaca",
    }
    out = capsys.readouterr().out
    assert "total" in out and "coit/zh/10" in out
    paper = yaml.safe_load((repo / "config.yaml").read_text())
    schema = repo / "workflow/schemas/config.schema.yaml"
    paper["estimate"] = config["estimate"]
    paper["train"]["max_steps"] = 100
    assert schema_errors(paper, schema) == []
    paper["estimate"]["throughput"]["7b"] = {"train": 1}
    paper["estimate"]["nonsense"] = 1
    errors = schema_errors(paper, schema)
    assert len(errors) == 2 and "estimate.nonsense: unknown key" in errors


def test_the_paper_grid(repo):
    paper = yaml.safe_load((repo / "config.yaml").read_text())
    from xllm.mixture.recipes import load_recipes

    paper["mixture"]["recipes"] = str(repo / paper["mixture"]["recipes"])
    paper = with_defaults(paper, str(repo / "config.yaml"))
    models = grid_models(paper, load_recipes(paper["mixture"]["recipes"]))
    assert len(models) == 1 + 6 * 6 + 1 + 2 * 2  # alpaca-en, coit x 6 languages x 6 scales, muit, 4 budget models
    paper["mixture"]["x_recipes"] = ["cpt"]
    models = grid_models(paper, load_recipes(paper["mixture"]["recipes"]))
    assert "cpt-mono/zh/10000" in models and models.index("cpt-mono/zh/10000") < models.index("cpt/zh/10000")


def test_cpu_jobs_capped_steps_and_start_up_time(config):
    """The rehearsal's case: training on a CPU process at a measured throughput, stopped after
    max_steps, each job with a measured start-up time."""
    config["train"].update(gpus_per_node=0, max_steps=3, global_batch_size=4)
    config["estimate"].update(cpu_throughput={"train": 50, "tokenize": 1000}, overhead_s={"train": 7, "tokenize": 2})
    result = estimate(config)
    train, tokenize = _jobs(result, "train_model"), _jobs(result, "tokenize_mixture")
    row, once = train["coit/zh/10"], tokenize["coit/zh/10"]
    per_example = once["tokens"] / once["examples"]
    assert row["tokens"] == pytest.approx(3 * 4 * per_example, abs=1)  # 3 steps of 4 examples, not 2 epochs
    assert row["wall_s"] == pytest.approx(7 + row["tokens"] / 50, abs=0.1) and row["gpu_hours"] == 0
    assert "CPU, one process" in row["throughput_source"]
    assert once["wall_s"] == pytest.approx(2 + once["tokens"] / 1000, abs=0.1)
    assert train["alpaca-en"]["tokens"] == pytest.approx(3 * 4 * (10 + 20), abs=1)
    config["train"].update(max_steps=10**6)  # more steps than 2 epochs: the epochs bound it
    assert _jobs(estimate(config), "train_model")["coit/zh/10"]["tokens"] == 2 * once["tokens"]


def test_measured_beside_estimated_from_the_benchmark_files(tmp_path):
    from xllm.estimate.measured import compare, write_table

    result = {
        "jobs": [
            {
                "rule": "train_model",
                "job": "coit/ar/100",
                "gpus": 8,
                "gpu_hours": 2.0,
                "tokens": 1,
                "tokens_per_s_per_gpu": 1,
            },
            {
                "rule": "train_model",
                "job": "coit/ar/200",
                "gpus": 8,
                "gpu_hours": 4.0,
                "tokens": 1,
                "tokens_per_s_per_gpu": 1,
            },
            {
                "rule": "translate_alpaca",
                "job": "ar/0",
                "gpus": 0,
                "gpu_hours": 0.0,
                "tokens": 7200,
                "tokens_per_s_per_gpu": 2.0,
                "wall_s": 3600.0,
            },
        ]
    }
    bench = tmp_path / "benchmarks"
    for rel, seconds in (("train_model/coit/ar/100.tsv", 1800), ("translate_alpaca/ar-0.tsv", 900)):
        (bench / rel).parent.mkdir(parents=True, exist_ok=True)
        (bench / rel).write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:30:00\t100\n")
    got = compare(result, bench)
    # coit/ar/200 has not run: only the measured job's estimate is compared
    assert got["train_model"] == {
        "jobs": 2,
        "measured_jobs": 1,
        "estimated_h": 2.0,
        "measured_h": 4.0,
        "unit": "GPU-hours",
        "ratio": 2.0,
    }
    assert got["translate_alpaca"]["unit"] == "wall hours" and got["translate_alpaca"]["ratio"] == pytest.approx(0.25)
    write_table(tmp_path / "cost.md", got, 6.0)
    assert "| train_model | 2 | 1 | GPU-hours | 2 | 4 | 2.00 |" in (tmp_path / "cost.md").read_text()
