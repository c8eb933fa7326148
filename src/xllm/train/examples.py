"""Rows → token ids and labels, masking the prompt by character offsets.

The whole example (prompt + response) is tokenized ONCE and each token is labelled by where its
characters lie, never by tokenizing the prompt separately: BPE merges across the prompt/response
boundary would otherwise shift the mask by a token. A token that straddles the boundary holds
response characters, so it is trained. EOS is appended as an id (and trained) so a model learns to
stop; BOS and other special tokens carry no characters and are never trained.
"""

from __future__ import annotations

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


def encode_instruction(tokenizer, prompt: str, response: str, max_len: int) -> tuple[Example | None, bool]:
    """One example from prompt + response; (None, _) when no response token survives ``max_len``."""
    ids, offsets = _encode(tokenizer, prompt + response)
    special = set(tokenizer.all_special_ids)
    boundary = len(prompt)
    labels = [
        tid if (end > boundary and end > start and tid not in special) else IGNORE
        for tid, (start, end) in zip(ids, offsets)
    ]
    ids = list(ids) + [tokenizer.eos_token_id]
    labels = labels + [tokenizer.eos_token_id]
    truncated = len(ids) > max_len
    if truncated:
        ids, labels = ids[:max_len], labels[:max_len]
    example = Example(ids, labels)
    return (example if example.n_targets > 0 else None), truncated


def encode_text(tokenizer, text: str, max_len: int) -> list[Example]:
    """Pre-training text: loss on every token; long texts become consecutive chunks of ``max_len``."""
    ids, _ = _encode(tokenizer, text)
    ids = list(ids) + [tokenizer.eos_token_id]
    special = {tokenizer.bos_token_id}
    labels = [IGNORE if tid in special else tid for tid in ids]
    chunks = []
    for start in range(0, len(ids), max_len):
        ex = Example(ids[start : start + max_len], labels[start : start + max_len])
        if ex.n_targets > 0:
            chunks.append(ex)
    return chunks


def encode_rows(
    rows: list[dict], tokenizer, style: str, max_len: int, source: str = "data"
) -> tuple[list[Example], EncodeStats]:
    """Encode mixture rows ({instruction, input, output} or {text}); count what was cut or dropped."""
    if tokenizer.eos_token_id is None:
        raise UserError(f"{source}: the tokenizer has no EOS token")
    stats = EncodeStats()
    out: list[Example] = []
    for i, row in enumerate(rows):
        stats.rows += 1
        kind = row.get("kind", "text" if "text" in row else "instruction")
        stats.kinds[kind] = stats.kinds.get(kind, 0) + 1
        if "text" in row and "output" not in row:
            chunks = encode_text(tokenizer, row["text"], max_len)
            stats.text_chunks += len(chunks)
            out.extend(chunks)
            continue
        if "instruction" not in row or "output" not in row:
            raise UserError(f"{source}: row {i + 1} has neither 'text' nor 'instruction' and 'output'")
        prompt = format_prompt(row["instruction"], row.get("input", "") or "", style)
        example, truncated = encode_instruction(tokenizer, prompt, row["output"], max_len)
        stats.truncated += int(truncated)
        if example is None:
            stats.dropped_all_masked += 1
            continue
        out.append(example)
    stats.examples = len(out)
    stats.tokens = sum(len(e) for e in out)
    stats.target_tokens = sum(e.n_targets for e in out)
    if not out:
        raise UserError(f"{source}: no trainable example (every prompt fills the max sequence length?)")
    return out, stats
