"""``xllm tokenize``: a mixture's examples, tokenized once, on disk for every training process.

Tokenizing in the training job cost each FSDP process the whole mixture (8 processes a node,
~45 min each for the paper's largest mixture at ~0.5M tokens/s) and held its tokens in memory.
A CPU job tokenizes instead; the training processes map the files (``ExampleStore.open``), so a
node reads one copy through the page cache. What the tokens depend on (the base model's
tokenizer, the prompt format, the maximum length) is recorded in the store and checked by
training against its own settings.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..args import setting
from ..atomic import atomic_dir, file_sha256, iter_jsonl
from ..errors import UserError
from ..prompts import prompt_style
from ..provenance import provenance
from .examples import ExampleStore, encode_rows
from .token_cache import TokenCache

CACHE_ENV = "XLLM_TOKEN_CACHE"


@dataclass
class TokenizeConfig:
    """What a tokenized mixture depends on; the config's ``train`` section fills it."""

    base: str = setting(help="model directory whose tokenizer is used (the model training starts from)")
    data: str = setting(help="mixture JSONL: {instruction,input,output} or {text} rows")
    out: str = setting(help="output directory (written atomically)")
    max_seq_length: int = setting(512)
    prompt_format: str | None = setting(
        None, choices=("authors", "ours", "compact"), help="default: the base's xllm_prompt.json, else authors"
    )
    cache: str | None = setting(
        None,
        runtime=True,
        help=f"token cache shared by the grid's jobs (xllm.train.token_cache; default: ${CACHE_ENV}, else none)",
    )


def style_of(prompt_format: str | None, base: str) -> str:
    """The prompt format a model is trained with (and recorded with in its directory)."""
    return prompt_format or prompt_style(base)


PROGRESS_ROWS = 250_000


def _progress(rows: Iterator[dict], cache: TokenCache | None) -> Iterator[dict]:
    """The rows, with a line on stderr every PROGRESS_ROWS rows (the largest mixture takes many minutes)."""
    start, every = time.time(), PROGRESS_ROWS
    for n, row in enumerate(rows, 1):
        if n % every == 0:
            found = f" ({cache.hits} found in the cache so far)" if cache is not None else ""
            print(f"{n} rows read{found}, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
        yield row


def token_settings(style: str, max_seq_length: int) -> dict:
    """The settings a store records and a training run must share."""
    return {"prompt_format": style, "max_seq_length": max_seq_length}


def tokenize(cfg: TokenizeConfig) -> ExampleStore:
    from transformers import AutoTokenizer

    if not Path(cfg.data).is_file():
        raise UserError(f"{cfg.data}: no such training data file")
    if not Path(cfg.base, "config.json").exists():
        raise UserError(f"{cfg.base}: not a model directory (no config.json)")
    style = style_of(cfg.prompt_format, cfg.base)
    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    cache_root = cfg.cache or os.environ.get(CACHE_ENV) or None
    cache = None
    if cache_root and getattr(tokenizer, "backend_tokenizer", None) is None:
        print(f"{cfg.base}: a slow tokenizer, no token cache (it needs a fast one)", file=sys.stderr)
    elif cache_root:
        cache = TokenCache(cache_root, tokenizer, style, cfg.max_seq_length)
    meta = {
        **token_settings(style, cfg.max_seq_length),
        "data": cfg.data,
        "data_sha256": file_sha256(cfg.data),
        "tokenizer": cfg.base,
        "vocab_size": len(tokenizer),
        "provenance": provenance(),
    }
    if cache is not None:
        print(f"token cache {cache.dir}: {cache.rows} rows", file=sys.stderr)
    with atomic_dir(cfg.out) as tmp:
        rows = _progress(iter_jsonl(cfg.data), cache)
        store, stats = encode_rows(rows, tokenizer, style, cfg.max_seq_length, cfg.data, tmp, meta, cache)
        del store  # its maps point into the temporary directory, which is about to be renamed
    if cache is not None:
        print(
            f"token cache: {cache.hits} rows found, {cache.misses} tokenized (and added)",
            file=sys.stderr,
        )
    print(
        f"{cfg.data}: {stats.rows} rows -> {stats.examples} examples, {stats.tokens} tokens "
        f"({stats.target_tokens} trained); {stats.truncated} truncated to {cfg.max_seq_length}, "
        f"{stats.dropped_all_masked} dropped (prompt fills the max length) -> {cfg.out}",
        file=sys.stderr,
    )
    return ExampleStore.open(cfg.out)
