"""Rows → token ids and labels, masking the prompt by character offsets.

The whole example (prompt + response) is tokenized ONCE and each token is labelled by where its
characters lie, never by tokenizing the prompt separately: BPE merges across the prompt/response
boundary would otherwise shift the mask by a token. A token that straddles the boundary holds
response characters, so it is trained. EOS is appended as an id (and trained) so a model learns to
stop; BOS and other special tokens carry no characters and are never trained.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import read_json, write_json
from ..errors import UserError
from ..prompts import format_prompt

IGNORE = -100


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]  # IGNORE where no loss; otherwise == input_ids at that position

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_targets(self) -> int:
        """Tokens with a loss once labels are shifted (the first token is never predicted)."""
        return sum(1 for lab in self.labels[1:] if lab != IGNORE)


@dataclass
class EncodeStats:
    rows: int = 0
    examples: int = 0
    truncated: int = 0
    dropped_all_masked: int = 0
    text_chunks: int = 0
    tokens: int = 0
    target_tokens: int = 0
    kinds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _encode(tokenizer, text: str):
    enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
    return enc["input_ids"], enc["offset_mapping"]


def _encode_batch(tokenizer, texts: list[str]):
    """Several texts in one call (the fast tokenizer encodes them in parallel); the same ids and
    offsets as one call per text."""
    enc = tokenizer(texts, add_special_tokens=True, return_offsets_mapping=True)
    return list(zip(enc["input_ids"], enc["offset_mapping"], strict=True))


def _instruction_example(ids, offsets, boundary: int, special: set, eos: int, max_len: int):
    labels = [
        tid if (end > boundary and end > start and tid not in special) else IGNORE
        for tid, (start, end) in zip(ids, offsets)
    ]
    ids = list(ids) + [eos]
    labels = labels + [eos]
    truncated = len(ids) > max_len
    if truncated:
        ids, labels = ids[:max_len], labels[:max_len]
    example = Example(ids, labels)
    return (example if example.n_targets > 0 else None), truncated


def encode_instruction(tokenizer, prompt: str, response: str, max_len: int) -> tuple[Example | None, bool]:
    """One example from prompt + response; (None, _) when no response token survives ``max_len``."""
    ids, offsets = _encode(tokenizer, prompt + response)
    return _instruction_example(
        ids, offsets, len(prompt), set(tokenizer.all_special_ids), tokenizer.eos_token_id, max_len
    )


def _text_chunks(ids, bos: int | None, eos: int, max_len: int) -> list[Example]:
    return [
        Example(chunk, [tid if t else IGNORE for tid, t in zip(chunk, trained)])
        for chunk, trained in _text_chunk_ids(list(ids), bos, eos, max_len)
    ]


def encode_text(tokenizer, text: str, max_len: int) -> list[Example]:
    """Pre-training text: loss on every token; long texts become consecutive chunks of ``max_len``."""
    ids, _ = _encode(tokenizer, text)
    return _text_chunks(ids, tokenizer.bos_token_id, tokenizer.eos_token_id, max_len)


class ExampleStore(Sequence):
    """Every example's ids in one flat array (uint16 for a vocabulary of up to 65,536, else int32)
    and which of them are trained in one byte array (3 or 5 bytes a token), not two Python lists
    per example (~70 bytes a token: a 1.2M-pair mixture took tens of GB). A label is IGNORE or
    the token's own id (``Example``), so a byte says which. Indexing gives an ``Example`` of
    lists, built when a micro-batch asks for it.

    ``ExampleStore.open(directory)`` maps a store written by ``ExampleWriter`` (``xllm
    tokenize``) from disk: its memory is the pages a micro-batch touches, shared by every process
    of the node, so a training process stays flat in the size of its mixture."""

    def __init__(self, ids, trained, ends, targets, meta: dict | None = None):
        self._ids, self._trained, self._ends, self._targets = ids, trained, ends, targets
        self.meta = meta or {}

    @classmethod
    def open(cls, directory) -> ExampleStore:
        import numpy as np

        directory = Path(directory)
        meta_path = directory / STORE_META
        if not meta_path.is_file():
            raise UserError(f"{directory}: not a tokenized mixture (no {STORE_META}; see `xllm tokenize`)")
        meta = read_json(meta_path, "a tokenized mixture's description")
        if meta.get("format") != STORE_FORMAT:
            raise UserError(f"{directory}: store format {meta.get('format')!r}, this xllm reads {STORE_FORMAT}")
        arrays = []
        for name, dtype, count in (
            ("ids", meta["dtype"], meta["tokens"]),
            ("trained", "uint8", meta["tokens"]),
            ("ends", "int64", meta["examples"]),
            ("targets", "int32", meta["examples"]),
        ):
            path = directory / f"{name}.bin"
            size = path.stat().st_size if path.is_file() else -1
            if size != count * np.dtype(dtype).itemsize:
                raise UserError(f"{path}: {size} bytes, {STORE_META} says {count} {dtype} values (a partial copy?)")
            arrays.append(np.memmap(path, dtype=dtype, mode="r", shape=(count,)) if count else np.zeros(0, dtype))
        return cls(*arrays, meta=meta)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = int(self._ends[i - 1]) if i else 0
        end = int(self._ends[i])
        ids = self._ids[start:end].tolist()
        return Example(ids, [tid if t else IGNORE for tid, t in zip(ids, self._trained[start:end].tolist())])

    def n_targets(self, i: int) -> int:
        return int(self._targets[i])

    def n_tokens(self, i: int) -> int:
        return int(self._ends[i]) - (int(self._ends[i - 1]) if i else 0)

    @property
    def tokens(self) -> int:
        return int(self._ends[-1]) if len(self) else 0

    @property
    def target_tokens(self) -> int:
        return int(self._targets.sum(dtype="int64"))

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._ids, self._trained, self._ends, self._targets))


STORE_META = "tokens.json"
STORE_FORMAT = 1
FLUSH_TOKENS = 1 << 22  # a writer to disk holds at most ~4M tokens (12-20 MB) before writing them


class ExampleWriter:
    """Appends examples to an ``ExampleStore``: in memory, or, given ``directory``, to its four
    flat files, a few MB at a time (tokenizing a 1.3G-token mixture holds no more than that)."""

    def __init__(self, vocab_size: int | None = None, directory=None):
        # uint16 ids where the vocabulary allows (LLaMA's 32,000): 3 bytes a token in all
        self._code = "H" if vocab_size is not None and vocab_size <= 1 << 16 else "i"
        self._dir = Path(directory) if directory is not None else None
        self._files = None
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._files = {
                name: open(self._dir / f"{name}.bin", "wb") for name in ("ids", "trained", "ends", "targets")
            }
        self._reset()
        self.examples = self.tokens = self.target_tokens = 0

    def _reset(self) -> None:
        self._ids, self._trained, self._ends, self._targets = array(self._code), bytearray(), array("q"), array("i")

    def append(self, ex: Example) -> None:
        self.append_ids(*_raw(ex))

    def append_ids(self, ids, trained: bytes) -> None:
        """One example as its ids and one byte per token (1: trained)."""
        targets = trained.count(1, 1)  # the first token is never predicted
        self._ids.extend(ids)
        self._trained += trained
        self.tokens += len(trained)
        self.examples += 1
        self._ends.append(self.tokens)
        self._targets.append(targets)
        self.target_tokens += targets
        if self._files is not None and len(self._ids) >= FLUSH_TOKENS:
            self._flush()

    def _flush(self) -> None:
        for name, buffer in zip(self._files, (self._ids, self._trained, self._ends, self._targets)):
            self._files[name].write(buffer)
        self._reset()

    def finish(self, meta: dict | None = None) -> ExampleStore:
        """The store of everything appended; on disk, ``meta`` (and the counts) go to tokens.json."""
        import numpy as np

        dtype = "uint16" if self._code == "H" else "int32"
        if self._files is None:
            arrays = [
                np.frombuffer(self._ids, dtype=dtype),
                np.frombuffer(self._trained, dtype="uint8"),
                np.frombuffer(self._ends, dtype="int64"),
                np.frombuffer(self._targets, dtype="int32"),
            ]
            return ExampleStore(*arrays, meta=meta)
        self._flush()
        for handle in self._files.values():
            handle.close()
        record = {"format": STORE_FORMAT, "dtype": dtype, "examples": self.examples, "tokens": self.tokens}
        write_json(self._dir / STORE_META, {**record, **(meta or {})})
        return ExampleStore.open(self._dir)

    def close(self) -> None:
        """Close the files without finishing (a failed run's directory is then removed)."""
        for handle in (self._files or {}).values():
            handle.close()


ENCODE_BATCH = 256


def encode_rows(
    rows: Iterable[dict],
    tokenizer,
    style: str,
    max_len: int,
    source: str = "data",
    directory=None,
    meta=None,
    cache=None,
) -> tuple[ExampleStore, EncodeStats]:
    """Encode mixture rows ({instruction, input, output} or {text}); count what was cut or dropped.

    ``rows`` is read once, ENCODE_BATCH rows at a time (a generator streams a file), and the
    examples are kept in an ``ExampleStore``: in memory, or written to ``directory`` (with
    ``meta`` and the stats in its tokens.json) and mapped from there. ``cache``: a
    ``xllm.train.token_cache.TokenCache`` of this tokenizer, prompt format and length, whose rows
    are taken instead of tokenized again (and which the rows tokenized here are added to)."""
    if tokenizer.eos_token_id is None:
        raise UserError(f"{source}: the tokenizer has no EOS token")
    stats = EncodeStats()
    out = ExampleWriter(len(tokenizer), directory)
    try:
        _encode_into(out, rows, tokenizer, style, max_len, source, stats, cache)
    except BaseException:
        out.close()
        raise
    stats.examples, stats.tokens, stats.target_tokens = out.examples, out.tokens, out.target_tokens
    if not out.examples:
        out.close()
        raise UserError(f"{source}: no trainable example (every prompt fills the max sequence length?)")
    return out.finish({**(meta or {}), "stats": stats.as_dict()}), stats


@dataclass
class RowTokens:
    """What one mixture row becomes: its examples as (ids, trained bytes), and whether it was cut
    to the maximum length or dropped (no response token left)."""

    examples: list
    truncated: bool = False
    dropped: bool = False


def _encode_into(out: ExampleWriter, rows, tokenizer, style, max_len, source, stats, cache=None) -> None:
    tokenize = _RowTokenizer(tokenizer, max_len)
    writer = cache.writer() if cache is not None else None
    rows = iter(rows)
    n = 0
    try:
        while batch := list(itertools.islice(rows, ENCODE_BATCH)):
            texts, plans = [], []
            for row in batch:
                n += 1
                stats.rows += 1
                kind = row.get("kind", "text" if "text" in row else "instruction")
                stats.kinds[kind] = stats.kinds.get(kind, 0) + 1
                if "text" in row and "output" not in row:
                    texts.append(row["text"])
                    plans.append(None)
                    continue
                if "instruction" not in row or "output" not in row:
                    raise UserError(f"{source}: row {n} has neither 'text' nor 'instruction' and 'output'")
                prompt = format_prompt(row["instruction"], row.get("input", "") or "", style)
                texts.append(prompt + row["output"])
                plans.append(prompt)
            found = cache.lookup(texts, plans) if cache is not None else [None] * len(texts)
            missing = [i for i, hit in enumerate(found) if hit is None]
            fresh = dict(zip(missing, tokenize([texts[i] for i in missing], [plans[i] for i in missing])))
            for i, prompt in enumerate(plans):
                result = found[i] or fresh[i]
                if writer is not None and i in fresh:
                    writer.add(texts[i], prompt, result)
                if prompt is None:
                    stats.text_chunks += len(result.examples)
                stats.truncated += int(result.truncated)
                stats.dropped_all_masked += int(result.dropped)
                for example in result.examples:
                    out.append_ids(*example)
    finally:
        if writer is not None:
            writer.close()


class _RowTokenizer:
    """Rows -> ``RowTokens``: the fast way (``_Fast``) where it can label a row, else offsets."""

    def __init__(self, tokenizer, max_len: int):
        self.tokenizer, self.max_len = tokenizer, max_len
        self.special = set(tokenizer.all_special_ids)
        self.bos, self.eos = tokenizer.bos_token_id, tokenizer.eos_token_id
        self.fast = _Fast(tokenizer)

    def __call__(self, texts: list[str], plans: list[str | None]) -> list[RowTokens]:
        if not texts:
            return []
        bos, eos, max_len = self.bos, self.eos, self.max_len
        results = list(zip(plans, *self.fast.encode(texts, plans), strict=True))
        # Rows the fast way cannot label: the offsets' way, in one batch call, kept in row order.
        slow = [i for i, (prompt, ids, head) in enumerate(results) if ids is None or (prompt and head is None)]
        offsets = dict(zip(slow, _encode_batch(self.tokenizer, [texts[i] for i in slow]) if slow else [], strict=True))
        out = []
        for i, (prompt, ids, head) in enumerate(results):
            if prompt is None:
                if i in offsets:
                    out.append(RowTokens(list(_text_chunk_ids(list(offsets[i][0]), bos, eos, max_len))))
                else:
                    out.append(RowTokens(list(_text_chunk_ids(ids, bos, eos, max_len))))
                continue
            if i in offsets:
                example, truncated = _instruction_example(*offsets[i], len(prompt), self.special, eos, max_len)
                example = example and _raw(example)
            else:
                truncated = len(ids) + 1 > max_len
                ids = (ids + [eos])[:max_len]
                trained = bytes(min(head, len(ids))) + b"\x01" * max(0, len(ids) - head)
                example = (ids, trained) if trained.count(1, 1) else None
            out.append(RowTokens([example] if example else [], truncated, example is None))
        return out


def _raw(ex: Example) -> tuple[list[int], bytes]:
    """An example as ``ExampleWriter.append_ids`` takes it (its labels checked)."""
    if any(lab != IGNORE and lab != tid for lab, tid in zip(ex.labels, ex.input_ids)):
        raise ValueError("a label is neither IGNORE nor the token's own id")
    return ex.input_ids, bytes(lab != IGNORE for lab in ex.labels)


class _Fast:
    """Labels without Python offsets. The batch call with offsets spends most of its time building
    a tuple per token; the Rust encodings answer ``char_to_token`` instead: the token holding the
    response's first character is the first one whose characters end after the prompt, which is
    where the offsets would start training (a token straddling the boundary included). Text rows
    need no offsets at all (``encode_batch_fast``). A row whose first response character no token
    holds, or whose text holds a special token's string, gets None and goes the offsets' way;
    tokenizers without these calls go that way for every row."""

    def __init__(self, tokenizer):
        backend = getattr(tokenizer, "_tokenizer", None)
        if hasattr(backend, "encode_batch_fast") and (backend.truncation or backend.padding):
            # A tokenizer.json saved after a padded call keeps its padding and truncation, which
            # transformers resets around each of its own calls; these calls go to a copy without.
            from tokenizers import Tokenizer

            backend = Tokenizer.from_str(backend.to_str())
            backend.no_truncation()
            backend.no_padding()
        self._backend = backend if hasattr(backend, "encode_batch_fast") else None
        self._special = [t for t in tokenizer.all_special_tokens if t]

    def _plain(self, text: str) -> bool:
        return not any(t in text for t in self._special)

    def encode(self, texts: list[str], prompts: list[str | None]) -> tuple[list, list]:
        """Per text: its ids (None: take the offsets' way) and, for an instruction, the index of
        its first trained token (None: the offsets' way)."""
        ids, heads = [None] * len(texts), [None] * len(texts)
        if self._backend is None:
            return ids, heads
        for wanted, call in ((False, self._backend.encode_batch_fast), (True, self._backend.encode_batch)):
            rows = [i for i, p in enumerate(prompts) if (p is not None) == wanted and self._plain(texts[i])]
            for i, enc in zip(rows, call([texts[i] for i in rows], add_special_tokens=True) if rows else []):
                ids[i] = enc.ids
                if wanted:
                    heads[i] = enc.char_to_token(len(prompts[i]))
        return ids, heads


def _text_chunk_ids(ids: list[int], bos: int | None, eos: int, max_len: int):
    """Pre-training text as (ids, trained bytes) chunks of ``max_len``: EOS appended, every token
    trained but BOS, chunks with nothing to predict dropped."""
    ids = ids + [eos]
    trained, at = bytearray(b"\x01" * len(ids)), -1
    while bos is not None:  # list.index finds each BOS in C (a generator over every token was slow)
        try:
            at = ids.index(bos, at + 1)
        except ValueError:
            break
        trained[at] = 0
    trained = bytes(trained)
    for start in range(0, len(ids), max_len):
        part = trained[start : start + max_len]
        if part.count(1, 1):
            yield ids[start : start + max_len], part
