"""The rehearsal's data generator (real formats, read by the real readers) and the fixes the
rehearsal at the paper's sizes led to, each on small data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xllm.data import testsets
from xllm.data.readers import read_moses_zip, read_tsv
from xllm.demo.rehearsal import make_rehearsal_data, unpinned_sources
from xllm.errors import UserError
from xllm.train import batches
from xllm.train.examples import (
    IGNORE,
    Example,
    ExampleStore,
    ExampleWriter,
    encode_instruction,
    encode_rows,
    encode_text,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    out = tmp_path_factory.mktemp("rehearsal")
    counts = make_rehearsal_data(
        out / "mirror", out / "specs", out / "mono", ["ar", "zh"], scale=0.002, log=lambda s: None
    )
    sources = out / "sources.yaml"
    unpinned_sources(ROOT / "workflow/sources.yaml", sources)
    return out, counts, sources


def test_generated_corpora_read_by_the_real_readers(rehearsal):
    out, counts, _ = rehearsal
    rows = sum(len(b.en) for b in read_tsv(out / "mirror/WikiMatrix.ar-en.tsv.gz", en_first=False, with_margin=True))
    assert rows == counts["wikimatrix"]["ar"]["rows"] > counts["wikimatrix"]["ar"]["pairs"]  # plus noise
    first = next(read_tsv(out / "mirror/WikiMatrix.en-zh.tsv.gz", en_first=True, with_margin=True))
    assert first.en[0].as_py().isascii() and not first.x[0].as_py().isascii()
    news = sum(len(b.en) for b in read_moses_zip(out / "mirror/News-Commentary.v16.ar-en.txt.zip", "ar"))
    assert news == counts["news_commentary"]["ar"]
    assert len(json.loads((out / "mirror/alpaca_data.json").read_text())) == counts["alpaca"]


def test_generated_test_sets_prepared_by_the_real_rules(rehearsal, tmp_path):
    out, counts, sources = rehearsal
    n = testsets.prepare_flores("zh", "devtest", out / "mirror/flores101_dataset.tar.gz", sources, tmp_path / "f.txt")
    assert n == max(1, round(1012 * 0.002))
    testsets.prepare_xquad("ar", out / "mirror/xquad.ar.json", sources, tmp_path / "x.json")
    doc = json.loads((tmp_path / "x.json").read_text())
    assert sum(len(p["qas"]) for a in doc["data"] for p in a["paragraphs"]) == counts["xquad"]
    for setting in ("en-ar", "zh-zh"):
        testsets.prepare_mlqa(setting, "test", out / "mirror/MLQA_V1.zip", sources, tmp_path / f"{setting}.json")


def _tokenizer():
    from xllm.demo.tiny_model import bpe_tokenizer

    return bpe_tokenizer(["the cat sat on the mat", "### Instruction: say it", "οι γάτες", "你好世界"] * 20, 300)


def test_encode_rows_batched_and_stored_flat_equals_one_by_one():
    """Fix: a mixture's examples are kept in flat int32 arrays (8 bytes a token), tokenized in
    batches, from a stream of rows; the examples are the same as encoding one row at a time."""
    tok = _tokenizer()
    rows = [
        {"instruction": f"say {i}", "input": "the cat" if i % 2 else "", "output": "the mat " * (i % 5 + 1)}
        for i in range(600)
    ]
    rows += [{"text": "你好世界 the cat " * 30}]
    store, stats = encode_rows(iter(rows), tok, "authors", max_len=256)  # a generator: read once
    assert isinstance(store, ExampleStore)
    from xllm.prompts import format_prompt

    expected = []
    for row in rows[:-1]:
        ex, _ = encode_instruction(tok, format_prompt(row["instruction"], row["input"], "authors"), row["output"], 256)
        expected.append(ex)
    expected += encode_text(tok, rows[-1]["text"], 256)
    assert len(store) == len(expected) == stats.examples > 500
    for i, ex in enumerate(expected):
        assert store[i] == ex
        assert store.n_targets(i) == ex.n_targets and store.n_tokens(i) == len(ex)
    assert stats.tokens == sum(map(len, expected))
    assert store.nbytes <= 3 * stats.tokens + 12 * len(store)  # uint16 ids: a vocabulary of 300
    big = ExampleWriter(vocab_size=100_000)  # too large for uint16: int32 ids
    big.append(Example([70_000, 5], [IGNORE, 5]))
    big = big.finish()
    assert big[0] == Example([70_000, 5], [IGNORE, 5]) and big.nbytes == 4 * 2 + 2 + 8 + 4


def test_a_mixture_tokenized_to_disk_is_mapped_back_the_same(tmp_path, monkeypatch):
    """Fix: tokenized once (``xllm tokenize``), written a few MB at a time, mapped by every
    training process: the same examples and stats as encoding in memory."""
    from xllm.train import examples

    monkeypatch.setattr(examples, "FLUSH_TOKENS", 100)  # many flushes on small data
    tok = _tokenizer()
    rows = [{"instruction": f"say {i}", "input": "", "output": "the cat sat " * (i % 7 + 1)} for i in range(300)]
    rows += [{"text": "οι γάτες the mat " * 40}]
    memory, stats = encode_rows(iter(rows), tok, "authors", max_len=64)
    disk, disk_stats = encode_rows(iter(rows), tok, "authors", max_len=64, directory=tmp_path / "t", meta={"m": 1})
    assert disk_stats == stats and stats.text_chunks > 1
    reopened = ExampleStore.open(tmp_path / "t")
    assert reopened.meta["m"] == 1 and reopened.meta["stats"]["tokens"] == stats.tokens == reopened.tokens
    assert len(reopened) == len(memory) == stats.examples
    assert reopened.target_tokens == memory.target_tokens == stats.target_tokens
    for i in range(len(memory)):
        assert reopened[i] == memory[i] and reopened.n_targets(i) == memory.n_targets(i)
    with open(tmp_path / "t/ids.bin", "r+b") as handle:  # a partial copy is refused, not misread
        handle.truncate(10)
    with pytest.raises(UserError, match="ids.bin: 10 bytes"):
        ExampleStore.open(tmp_path / "t")
    with pytest.raises(UserError, match="not a tokenized mixture"):
        ExampleStore.open(tmp_path)


def test_epoch_order_shuffled_once_per_epoch():
    """Fix: the step's micro-batches no longer reshuffle the whole epoch at every step (O(n) per
    step: hours over an epoch of a 1.2M-example mixture)."""
    n = 1_200_000
    batches.epoch_order.cache_clear()
    for step in range(50):
        batches.step_micro_batches(n, 1, step, 128, 4)
    assert batches.epoch_order.cache_info().misses == 1  # shuffled once for the 50 steps
    assert batches.epoch_order(n, 1, 0).itemsize == 8  # 8 bytes an example, not a Python int each
    order = list(range(50))
    import random

    random.Random("xllm-train:3:0").shuffle(order)
    assert list(batches.epoch_order(50, 3, 0)) == order  # the same order as before the cache


def test_mixture_staged_on_disk_is_the_in_memory_shuffle(tmp_path):
    """Fix: build_mixture keeps only row offsets in memory (rows staged in a temporary file,
    monolingual text and pairs streamed); the output is the one shuffling the rows in memory gave."""
    import random

    from xllm.mixture.build import build_mixture
    from xllm.mixture.recipes import load_recipes

    alpaca = {}
    for lang in ("en", "zh"):
        alpaca[lang] = tmp_path / f"{lang}.json"
        alpaca[lang].write_text(
            json.dumps([{"id": str(i), "instruction": f"{lang} {i}", "output": "o"} for i in range(7)])
        )
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"src": f"en {i}", "tgt": f"zh {i}"}) + "\n" for i in range(300)))
    recipe = load_recipes(ROOT / "workflow/recipes.yaml")["coit"]
    out = tmp_path / "mix.jsonl"
    build_mixture(
        recipe, ["zh"], alpaca, {"zh": pairs}, {"zh": 250}, {"en": "English", "zh": "Chinese"},
        "authors", 5, out, tmp_path / "m.json",
    )  # fmt: skip
    rows = [json.loads(line) for line in out.open()]
    assert len(rows) == 7 + 7 + 250
    # The order is random.Random(seed).shuffle of the rows in the order the parts produce them.
    unshuffled = sorted(
        rows, key=lambda r: (r["kind"] != "alpaca", r["kind"] == "alpaca" and r["lang"] != "en", r["id"])
    )
    by_part = [r for r in unshuffled if r["kind"] == "alpaca"]
    by_part += sorted((r for r in rows if r["kind"] == "translation"), key=lambda r: int(r["id"].split(":")[1]))
    random.Random(5).shuffle(by_part)
    assert rows == by_part
    assert not list(tmp_path.glob("tmp*"))  # the staging file is gone


def test_subset_corpus_streamed_is_the_permutation_prefix(tmp_path):
    """Fix: subset_corpus reads the corpus a batch at a time (it read the whole table, then took
    the subset: O(corpus) memory); the lines are the first N of the seeded permutation, in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from xllm.data import subset

    n = 2_503
    table = pa.table({"src": [f'en {i} "é"' for i in range(n)], "tgt": [f"中文 {i}" for i in range(n)]})
    pq.write_table(table, tmp_path / "c.parquet", row_group_size=700)
    for scale in (1, 1000, "full"):
        k = subset.subset_corpus(tmp_path / "c.parquet", scale, 42, tmp_path / "s.jsonl")
        order = subset.permutation(n, 42)[:k]
        expected = [json.dumps({"src": f'en {i} "é"', "tgt": f"中文 {i}"}, ensure_ascii=False) for i in order]
        assert (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet", "s.jsonl"]  # no staging file left
