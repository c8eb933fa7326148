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
    ids = list(ids) + [eos]
    labels = [IGNORE if tid == bos else tid for tid in ids]
    chunks = []
    for start in range(0, len(ids), max_len):
        ex = Example(ids[start : start + max_len], labels[start : start + max_len])
        if ex.n_targets > 0:
            chunks.append(ex)
    return chunks


def encode_text(tokenizer, text: str, max_len: int) -> list[Example]:
    """Pre-training text: loss on every token; long texts become consecutive chunks of ``max_len``."""
    ids, _ = _encode(tokenizer, text)
    return _text_chunks(ids, tokenizer.bos_token_id, tokenizer.eos_token_id, max_len)


class ExampleStore(Sequence):
    """Every example's ids in one flat array (uint16 for a vocabulary of up to 65,536, else int32)
    and which of them are trained in one byte array (3 or 5 bytes a token), not two Python lists
    per example (~70 bytes a token: a 1.2M-pair mixture took tens of GB). A label is IGNORE or
    the token's own id (``Example``), so a byte says which. Indexing gives an ``Example`` of
    lists, built when a micro-batch asks for it."""

    def __init__(self, vocab_size: int | None = None):
        # uint16 ids where the vocabulary allows (LLaMA's 32,000): 3 bytes a token in all
        self._ids = array("H" if vocab_size is not None and vocab_size <= 1 << 16 else "i")
        self._trained = bytearray()
        self._ends = array("q")
        self._targets = array("i")

    def append(self, ex: Example) -> None:
        trained = bytes(lab != IGNORE for lab in ex.labels)
        if any(t and lab != tid for t, lab, tid in zip(trained, ex.labels, ex.input_ids)):
            raise ValueError("a label is neither IGNORE nor the token's own id")
        self._ids.extend(ex.input_ids)
        self._trained += trained
        self._ends.append(len(self._ids))
        self._targets.append(ex.n_targets)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = self._ends[i - 1] if i else 0
        end = self._ends[i]
        ids = self._ids[start:end].tolist()
        return Example(ids, [tid if t else IGNORE for tid, t in zip(ids, self._trained[start:end])])

    def n_targets(self, i: int) -> int:
        return self._targets[i]

    def n_tokens(self, i: int) -> int:
        return self._ends[i] - (self._ends[i - 1] if i else 0)

    @property
    def tokens(self) -> int:
        return len(self._ids)

    @property
    def target_tokens(self) -> int:
        return sum(self._targets)

    @property
    def nbytes(self) -> int:
        return self._ids.itemsize * len(self._ids) + len(self._trained) + 8 * len(self._ends) + 4 * len(self._targets)


ENCODE_BATCH = 256


def encode_rows(
    rows: Iterable[dict], tokenizer, style: str, max_len: int, source: str = "data"
) -> tuple[ExampleStore, EncodeStats]:
    """Encode mixture rows ({instruction, input, output} or {text}); count what was cut or dropped.

    ``rows`` is read once, ENCODE_BATCH rows at a time (a generator streams a file), and the
    examples are kept in an ``ExampleStore``."""
    if tokenizer.eos_token_id is None:
        raise UserError(f"{source}: the tokenizer has no EOS token")
    special = set(tokenizer.all_special_ids)
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    stats = EncodeStats()
    out = ExampleStore(len(tokenizer))
    rows = iter(rows)
    n = 0
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
            plans.append(len(prompt))
        for (ids, offsets), boundary in zip(_encode_batch(tokenizer, texts), plans, strict=True):
            if boundary is None:
                chunks = _text_chunks(ids, bos, eos, max_len)
                stats.text_chunks += len(chunks)
                for ex in chunks:
                    out.append(ex)
                continue
            example, truncated = _instruction_example(ids, offsets, boundary, special, eos, max_len)
            stats.truncated += int(truncated)
            if example is None:
                stats.dropped_all_masked += 1
                continue
            out.append(example)
    stats.examples = len(out)
    stats.tokens = out.tokens
    stats.target_tokens = out.target_tokens
    if not len(out):
        raise UserError(f"{source}: no trainable example (every prompt fills the max sequence length?)")
    return out, stats
