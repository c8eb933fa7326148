"""Sentence vectors from a causal LM: the mean over a sentence's tokens of each layer's hidden state.

Mean pooling over the sentence's own tokens (the BOS token and padding are left out) follows Pan et al.
(2021), who represent a sentence by the average of its encoder states; for a decoder-only LM the
hidden states of every layer play that role, so layers can be compared (Figure 5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError


def read_lines(path: str | Path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def read_parallel(en_path, x_path, max_sentences: int | None) -> tuple[list[str], list[str]]:
    """Line-aligned English and X sentences (the first ``max_sentences`` non-empty pairs)."""
    en, x = read_lines(en_path), read_lines(x_path)
    if len(en) != len(x):
        raise UserError(f"{x_path}: {len(x)} lines but {en_path} has {len(en)}; files must be line-aligned")
    pairs = [(a, b) for a, b in zip(en, x) if a.strip() and b.strip()]
    if max_sentences:
        pairs = pairs[:max_sentences]
    if len(pairs) < 2:
        raise UserError(f"{x_path}: needs at least 2 non-empty aligned sentences, found {len(pairs)}")
    return [a for a, _ in pairs], [b for _, b in pairs]


class Encoder:
    """A loaded model and tokenizer; ``vectors(sentences)`` → array (layers + 1, n, hidden)."""

    def __init__(self, model_dir: str | Path, batch_size: int = 16, max_length: int = 256):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").exists():
            raise UserError(f"{model_dir}: not a model directory (no config.json)")
        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.tokenizer.padding_side = "right"
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(self.device).eval()
        self.batch_size = batch_size
        self.max_length = max_length
        self.n_layers = int(self.model.config.num_hidden_layers)

    def vectors(self, sentences: list[str]) -> np.ndarray:
        torch = self.torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(sentences), self.batch_size):
                batch = sentences[start : start + self.batch_size]
                enc = self.tokenizer(
                    batch, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
                )
                enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
                hidden = self.model(**enc, output_hidden_states=True).hidden_states
                mask = enc["attention_mask"].clone()
                bos = self.tokenizer.bos_token_id
                if bos is not None:
                    mask = mask * (enc["input_ids"] != bos)
                mask = mask.unsqueeze(-1).float()
                denom = mask.sum(1).clamp(min=1.0)
                pooled = torch.stack([(h.float() * mask).sum(1) / denom for h in hidden])
                out.append(pooled.cpu().numpy())
        return np.concatenate(out, axis=1)

    def layer_index(self, layer: str | int) -> int:
        """``middle`` (n_layers // 2), ``last`` (n_layers) or an index into hidden_states (0 = embeddings)."""
        if layer == "middle":
            return self.n_layers // 2
        if layer == "last":
            return self.n_layers
        try:
            index = int(layer)
        except ValueError:
            raise UserError(f"--layer: {layer!r} is not middle, last or a layer number") from None
        if not 0 <= index <= self.n_layers:
            raise UserError(f"--layer: {index} is outside 0..{self.n_layers}")
        return index


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of row i of ``a`` with row i of ``b``."""
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / np.maximum(na * nb, 1e-12)
