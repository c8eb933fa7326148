"""Mixtures from recipes: parts, counts, directions, allocations, seeded shuffling, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xllm.atomic import read_jsonl
from xllm.errors import UserError
from xllm.mixture.build import build_mixture
from xllm.mixture.recipes import load_recipes, parse_model_id

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "workflow" / "recipes.yaml"
NAMES = {"en": "English", "ar": "Arabic", "zh": "Chinese"}


@pytest.fixture()
def data(tmp_path):
    def alpaca(lang, n):
        path = tmp_path / f"alpaca-{lang}.json"
        items = [
            {"id": str(i), "instruction": f"{lang} instr {i}", "input": "", "output": f"{lang} out {i}"}
            for i in range(n)
        ]
        path.write_text(json.dumps(items), encoding="utf-8")
        return path

    def pairs(lang, n):
        path = tmp_path / f"pairs-{lang}.jsonl"
        path.write_text("".join(json.dumps({"src": f"en {i}", "tgt": f"{lang} {i}"}) + "\n" for i in range(n)))
        return path

    return {
        "alpaca": {"en": alpaca("en", 5), "ar": alpaca("ar", 4), "zh": alpaca("zh", 3)},
        "pairs": {"ar": pairs("ar", 10), "zh": pairs("zh", 8)},
        "dir": tmp_path,
    }


def build(data, recipe, langs, counts=None, seed=1, name="mix"):
    out = data["dir"] / f"{name}.jsonl"
    manifest = build_mixture(
        recipe=load_recipes(RECIPES)[recipe],
        langs=langs,
        alpaca=data["alpaca"],
        pairs=data["pairs"],
        pair_counts=counts or {lang: None for lang in langs},
        lang_names=NAMES,
        templates=["Translate the following sentences from {src} to {tgt}."],
        seed=seed,
        out=out,
        manifest=data["dir"] / f"{name}.manifest.json",
    )
    return [json.loads(line) for line in out.open()], manifest


def test_coit_is_alpaca_en_plus_alpaca_x_plus_en_x_pairs(data):
    rows, manifest = build(data, "coit", ["ar"])
    assert manifest["parts"] == {"alpaca:ar": 4, "alpaca:en": 5, "translation:en-ar": 10}
    translation = [r for r in rows if r["kind"] == "translation"]
    assert {r["instruction"] for r in translation} == {"Translate the following sentences from English to Arabic."}
    assert all(r["input"].startswith("en ") and r["output"].startswith("ar ") for r in translation)
    assert manifest["provenance"]["seed"] == 1


def test_muit_budget_takes_each_languages_allocated_pairs(data):
    rows, manifest = build(data, "muit-budget", ["ar", "zh"], counts={"ar": 7, "zh": 2})
    assert manifest["parts"]["translation:en-ar"] == 7 and manifest["parts"]["translation:en-zh"] == 2
    assert manifest["parts"]["alpaca:zh"] == 3 and manifest["parts"]["alpaca:en"] == 5


def test_ablation_x_en_reverses_the_pairs(data):
    rows, manifest = build(data, "abl-alpaca-en-x-xen", ["zh"])
    translation = [r for r in rows if r["kind"] == "translation"]
    assert manifest["parts"]["translation:zh-en"] == 8
    assert all(r["input"].startswith("zh ") and r["output"].startswith("en ") for r in translation)
    assert translation[0]["instruction"].endswith("from Chinese to English.")


def test_shuffle_is_seeded(data):
    a, _ = build(data, "muit", ["ar", "zh"], seed=3, name="a")
    b, _ = build(data, "muit", ["ar", "zh"], seed=3, name="b")
    c, _ = build(data, "muit", ["ar", "zh"], seed=4, name="c")
    assert a == b and a != c and sorted(map(json.dumps, a)) == sorted(map(json.dumps, c))


def test_allocation_larger_than_the_subset_is_an_error(data):
    with pytest.raises(UserError, match="has 10 pairs, the mixture needs 50"):
        build(data, "muit-budget", ["ar"], counts={"ar": 50})


def test_model_ids_round_trip_to_columns():
    assert parse_model_id("coit/ar/20000").columns() == {
        "model": "coit/ar/20000",
        "recipe": "coit",
        "lang": "ar",
        "scale": "20000",
        "budget": "",
        "alloc": "",
    }
    assert parse_model_id("muit-budget/1.2M/optimized").alloc == "optimized"
    with pytest.raises(UserError, match="does not match"):
        parse_model_id("coit/ar")


def test_cli_reads_the_optimized_or_uniform_allocation(data, tmp_path):
    allocation = tmp_path / "alloc.json"
    allocation.write_text(json.dumps({"allocation": {"ar": 6, "zh": 1}, "uniform": {"allocation": {"ar": 3, "zh": 4}}}))
    out = tmp_path / "cli.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "xllm",
        "build-mixture",
        "--model",
        "muit-budget/small/uniform",
        "--recipes",
        str(RECIPES),
        "--langs",
        "ar,zh",
        "--allocation",
        str(allocation),
        "--alloc",
        "uniform",
        "--alpaca",
        f"en={data['alpaca']['en']}",
        "--alpaca",
        f"ar={data['alpaca']['ar']}",
        "--alpaca",
        f"zh={data['alpaca']['zh']}",
        "--pairs",
        f"ar={data['pairs']['ar']}",
        "--pairs",
        f"zh={data['pairs']['zh']}",
        "--lang-name",
        "en=English",
        "--lang-name",
        "ar=Arabic",
        "--lang-name",
        "zh=Chinese",
        "--out",
        str(out),
        "--manifest",
        str(tmp_path / "m.json"),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["parts"]["translation:en-ar"] == 3 and manifest["parts"]["translation:en-zh"] == 4
    assert len(manifest["templates"]) == 33 and manifest["instruction_choice"] == "rotate"  # the authors'
    run = subprocess.run(
        cmd + ["--translation-instructions", "single", "--instruction-choice", "random"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert len(manifest["templates"]) == 1 and manifest["instruction_choice"] == "random"


def test_monolingual_subsets_are_nested_and_seeded(tmp_path):
    from xllm.mixture.monolingual import subset_text

    source = tmp_path / "mono.txt"
    source.write_text("".join(f"doc {i}\n" for i in range(50)) + "\n")

    def read(path):
        return [row["text"] for row in read_jsonl(path)]

    subset_text(source, 10, 5, tmp_path / "10.jsonl")
    subset_text(source, 20, 5, tmp_path / "20.jsonl")
    subset_text(source, "full", 5, tmp_path / "full.jsonl")
    assert read(tmp_path / "20.jsonl")[:10] == read(tmp_path / "10.jsonl")
    assert sorted(read(tmp_path / "full.jsonl")) == sorted(f"doc {i}" for i in range(50))
    with pytest.raises(UserError, match=r"scale 51 is larger than the corpus \(50 documents\)"):
        subset_text(source, 51, 5, tmp_path / "x.jsonl")


def test_an_mc4_shard_is_read_as_gzipped_json_lines(tmp_path):
    """C4's multilingual/c4-zh.tfrecord-*.json.gz: JSON lines with text (and url, timestamp)."""
    import gzip

    from xllm.mixture.monolingual import subset_text

    shard = tmp_path / "c4-zh.tfrecord-00000-of-01024.json.gz"
    docs = [f"文档 {i}\n第二行" for i in range(30)]
    with gzip.open(shard, "wt", encoding="utf-8") as handle:
        for doc in docs:
            handle.write(json.dumps({"text": doc, "timestamp": "2020", "url": "https://x"}, ensure_ascii=False) + "\n")
    out = tmp_path / "zh" / "scale-10.jsonl"
    assert subset_text(shard, 10, 3, out) == 10
    texts = [row["text"] for row in read_jsonl(out)]
    assert len(set(texts)) == 10 and set(texts) <= set(docs)  # whole documents, newlines kept
    assert [p.name for p in out.parent.iterdir()] == ["scale-10.jsonl"]  # the decompressed copy is gone
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    subset_text(plain, 10, 3, tmp_path / "plain-10.jsonl")
    assert [row["text"] for row in read_jsonl(tmp_path / "plain-10.jsonl")] == texts  # same subset, gz or not
    shard.write_bytes(shard.read_bytes()[:40])
    with pytest.raises(UserError, match="corrupt or truncated"):
        subset_text(shard, 10, 3, tmp_path / "bad.jsonl")
    assert not (tmp_path / "bad.jsonl").exists()


def test_cpt_recipe_starts_from_the_monolingual_stage(tmp_path):
    recipes = load_recipes(RECIPES)
    assert recipes["cpt"].base == "cpt-mono"
    assert [p.kind for p in recipes["cpt-mono"].parts] == ["monolingual"]
    assert parse_model_id("cpt/ar/10000").columns()["recipe"] == "cpt"
    bad = tmp_path / "r.yaml"
    bad.write_text("x:\n  base: nope\n  parts: [{alpaca: {lang: en}}]\n")
    with pytest.raises(UserError, match="unknown recipe 'nope'"):
        load_recipes(bad)


def test_translation_pairs_rotate_the_authors_33_instructions(data):
    from xllm.prompts import AUTHORS_TRANSLATION_INSTRUCTIONS

    pairs = data["dir"] / "pairs-many.jsonl"
    pairs.write_text("".join(json.dumps({"src": f"en {i}", "tgt": f"ar {i}"}) + "\n" for i in range(70)))
    data["pairs"]["ar"] = pairs
    out = data["dir"] / "rot.jsonl"
    manifest = build_mixture(
        recipe=load_recipes(RECIPES)["coit"],
        langs=["ar"],
        alpaca=data["alpaca"],
        pairs=data["pairs"],
        pair_counts={"ar": None},
        lang_names=NAMES,
        templates=None,
        seed=3,
        out=out,
        manifest=data["dir"] / "rot.manifest.json",
    )
    rows = [json.loads(line) for line in out.open()]
    by_k = {int(r["input"].split()[1]): r["instruction"] for r in rows if r["kind"] == "translation"}
    assert len(AUTHORS_TRANSLATION_INSTRUCTIONS) == 33 and manifest["templates"] == list(
        AUTHORS_TRANSLATION_INSTRUCTIONS
    )
    assert by_k[0] == by_k[33] == by_k[66] == "Translate the following sentences from English to Arabic."
    assert by_k[1] == by_k[34] == "What do the following sentences mean in Arabic?"
    assert by_k[32] == "Can you reveal the Arabic translation of the forthcoming sentences?"
    assert len(set(by_k.values())) == 33 and manifest["instruction_choice"] == "rotate"


def test_instruction_sets_choices_and_the_authors_placeholders(data):
    rows, _ = build(data, "coit", ["ar"])  # one custom template: every pair gets it
    assert {r["instruction"] for r in rows if r["kind"] == "translation"} == {
        "Translate the following sentences from English to Arabic."
    }
    common = dict(
        recipe=load_recipes(RECIPES)["coit"],
        langs=["ar"],
        alpaca=data["alpaca"],
        pairs=data["pairs"],
        pair_counts={"ar": None},
        lang_names=NAMES,
        seed=3,
        manifest=data["dir"] / "m.json",
    )
    out = data["dir"] / "single.jsonl"
    assert build_mixture(templates="single", out=out, **common)["templates"] == [
        "Translate the following sentences from {src} to {tgt}."
    ]
    out = data["dir"] / "theirs.jsonl"
    build_mixture(
        templates=["From {source_lang} into {target_lang}:", "Into {tgt}:"],
        instruction_choice="random",
        out=out,
        **common,
    )
    got = {json.loads(line)["instruction"] for line in out.open() if '"translation"' in line}
    assert got == {"From English into Arabic:", "Into Arabic:"}
    for bad in (dict(templates="many"), dict(templates=None, instruction_choice="cycle")):
        with pytest.raises(UserError, match="many|cycle"):
            build_mixture(out=data["dir"] / "bad.jsonl", **{**common, **bad})
