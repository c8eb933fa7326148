"""The token cache shared by the tokenize jobs: a row found there is exactly what tokenizing it
gives, jobs only add segments of their own, and a killed job keeps what it finished."""

from __future__ import annotations

import json
import random

import pytest

from xllm.errors import UserError
from xllm.train import token_cache
from xllm.train.examples import encode_rows
from xllm.train.token_cache import TokenCache


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    from xllm.demo.tiny_model import bpe_tokenizer

    tok = bpe_tokenizer(["the cat sat on the mat", "### Instruction: say it", "οι γάτες", "你好世界"] * 20, 300)
    out = tmp_path_factory.mktemp("tok")
    tok.save_pretrained(out)
    return out


def _rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = [
        {"instruction": f"say {i}", "input": "the cat" if i % 3 else "", "output": "the mat " * rng.randint(1, 40)}
        for i in range(n)
    ]
    return rows + [{"text": "你好世界 the cat " * rng.randint(1, 30)} for _ in range(n // 5)]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(a[i] == b[i] and a.n_targets(i) == b.n_targets(i) for i in range(len(a)))


def _cache(root, tok, max_len=200):
    return TokenCache(root, tok, "authors", max_len)


def test_rows_found_in_the_cache_are_what_tokenizing_gives(tmp_path, tokenizer_dir, monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setattr(token_cache, "SEGMENT_ROWS", 37)  # several segments per job
    monkeypatch.setattr(token_cache, "OPEN_SEGMENTS", 2)  # and fewer open at once
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    first = _rows(200, 0)
    plain_first, stats_first = encode_rows(first, tok, "authors", 200)
    cache = _cache(tmp_path, tok)
    store, stats = encode_rows(first, tok, "authors", 200, cache=cache)
    assert _same(store, plain_first) and stats == stats_first and stats.truncated and stats.text_chunks
    assert (cache.hits, cache.misses) == (0, len(first))
    # A second mixture: some rows of the first, shuffled, and new ones (another job, later).
    second = random.Random(1).sample(first, 120) + _rows(50, 7)
    plain_second, stats_second = encode_rows(second, tok, "authors", 200)
    cache = _cache(tmp_path, tok)
    assert cache.rows == len(first) and len(cache.segments) == -(-len(first) // 37)
    store, stats = encode_rows(second, tok, "authors", 200, cache=cache)
    assert _same(store, plain_second) and stats == stats_second
    assert cache.hits >= 120 and cache.hits + cache.misses == len(second)
    # The prompt's end is part of a row's key: the same text split elsewhere is another row.
    moved = [
        {"instruction": "say 1", "input": "", "output": "the mat"},
        {"instruction": "say", "input": "", "output": " 1the mat"},
    ]
    cache = _cache(tmp_path, tok)
    store, _ = encode_rows(moved, tok, "authors", 200, cache=cache)
    assert _same(store, encode_rows(moved, tok, "authors", 200)[0])


def test_another_length_or_vocabulary_is_another_cache(tmp_path, tokenizer_dir):
    from transformers import AutoTokenizer

    from xllm.demo.tiny_model import bpe_tokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    encode_rows(_rows(30, 0), tok, "authors", 200, cache=_cache(tmp_path, tok))
    assert _cache(tmp_path, tok).rows > 0
    assert _cache(tmp_path, tok, max_len=180).rows == 0  # truncation differs
    other = bpe_tokenizer(["the cat sat on the mat", "οι γάτες"] * 20, 280)  # other merges
    assert _cache(tmp_path, other).rows == 0
    tok.add_tokens(["cat sat"])  # an added token that is not special splits every text holding it
    assert _cache(tmp_path, tok).rows == 0


def test_a_tokenizer_with_an_added_pad_shares_the_cache_but_not_rows_holding_it(tmp_path, tokenizer_dir):
    """Training adds a pad token to a base without one (train.pad_token: add; LLaMA's): the cpt
    second stage tokenizes with the first stage's tokenizer, which gives every row without that
    string the base's ids. (The tiny tokenizer has "<pad>" already, so "[PAD]", stanford_alpaca's.)"""
    from transformers import AutoTokenizer

    base = AutoTokenizer.from_pretrained(tokenizer_dir)
    rows = _rows(40, 2)
    encode_rows(rows, base, "authors", 200, cache=_cache(tmp_path, base))
    padded = AutoTokenizer.from_pretrained(tokenizer_dir)
    assert padded.add_special_tokens({"pad_token": "[PAD]"}) == 1
    padded("the cat", padding="max_length", max_length=9, truncation=True)  # saved with the file
    padded.save_pretrained(tmp_path / "stage-1")
    padded = AutoTokenizer.from_pretrained(tmp_path / "stage-1")
    cache = _cache(tmp_path, padded)
    assert cache.dir == _cache(tmp_path, base).dir and cache.rows == 48
    holding = [{"instruction": "say [PAD]", "input": "", "output": "the mat"}, {"text": "the cat[PAD]the mat"}]
    store, _ = encode_rows(rows + holding, padded, "authors", 200, cache=cache)
    assert (cache.hits, cache.misses) == (48, 2)
    assert _same(store, encode_rows(rows + holding, padded, "authors", 200)[0])
    assert any(padded.pad_token_id in store[i].input_ids for i in range(len(store)))  # split there
    assert _cache(tmp_path, padded).rows == 48  # and never added to the shared cache


def test_a_killed_job_keeps_the_segments_it_finished(tmp_path, tokenizer_dir, monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setattr(token_cache, "SEGMENT_ROWS", 50)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    rows = _rows(600, 3)[:600]
    broken = rows[:520] + [{"instruction": "no output"}]  # fails in the third batch of 256
    with pytest.raises(UserError, match="row 521"):
        encode_rows(broken, tok, "authors", 200, cache=_cache(tmp_path, tok))
    cache = _cache(tmp_path, tok)
    assert cache.rows == 512  # the two batches before the bad one (segments of 50 and the rest)
    assert not [p for p in cache.dir.iterdir() if p.name.startswith(".")]  # no half-written segment
    store, _ = encode_rows(rows, tok, "authors", 200, cache=cache)
    assert cache.hits == 512 and _same(store, encode_rows(rows, tok, "authors", 200)[0])


def test_xllm_tokenize_uses_the_cache_of_the_environment(tmp_path, tokenizer_dir, monkeypatch, capsys):
    from xllm.train import tokenize as module
    from xllm.train.tokenize import CACHE_ENV, TokenizeConfig, tokenize

    monkeypatch.setattr(module, "PROGRESS_ROWS", 20)
    base = tmp_path / "base"
    base.mkdir()
    for path in tokenizer_dir.iterdir():
        (base / path.name).write_bytes(path.read_bytes())
    (base / "config.json").write_text("{}")
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows(40, 5)))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    first = tokenize(TokenizeConfig(base=str(base), data=str(data), out=str(tmp_path / "a"), max_seq_length=200))
    second = tokenize(TokenizeConfig(base=str(base), data=str(data), out=str(tmp_path / "b"), max_seq_length=200))
    assert _same(first, second) and first.meta["data_sha256"] == second.meta["data_sha256"]
    err = capsys.readouterr().err
    assert "40 rows read (" in err and "48 rows found, 0 tokenized" in err  # progress, then the count
    (seg,) = (tmp_path / "cache").glob("*/seg-*")  # the second job found every row: nothing added
    assert json.loads((seg / "meta.json").read_text())["rows"] == 48
