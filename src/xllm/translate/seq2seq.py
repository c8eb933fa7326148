"""Hugging Face encoder-decoder translation (NLLB-200, M2M-100, Marian/OPUS-MT), length-sorted.

Each family names languages differently: NLLB by FLORES-200 codes (``arb_Arab``) set as the
tokenizer's source language and forced as the first generated token; M2M-100 by ISO codes
(``ar``) the same way; Marian models are one pair each (multilingual ones take a ``>>ara<<``
target token, given as ``target_token``). Inputs are sorted by token length before batching, so
a batch pads to similar lengths instead of to its longest outlier, and its output budget
(``max_len_a * longest input + max_len_b`` tokens, as in fairseq) fits it (bench/bench_translate.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import UserError
from ..languages import Language


def family(tokenizer) -> str:
    name = type(tokenizer).__name__.lower()
    for key in ("nllb", "m2m100", "marian"):
        if key in name:
            return key
    return "generic"


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class Seq2SeqBackend:
    name = "hf-seq2seq"

    def __init__(
        self,
        model: str,
        src: Language,
        tgt: Language,
        batch_size: int = 32,
        beam_size: int = 4,
        max_length: int = 256,
        device: str = "auto",
        dtype: str = "auto",
        target_token: str | None = None,
        sort_by_length: bool = True,
        max_len_a: float = 2.0,
        max_len_b: int = 10,
    ):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model)
        except OSError as err:
            raise UserError(f"--model {model}: cannot load a seq2seq model ({str(err).splitlines()[0]})") from err
        self.device = pick_device(device)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.model.to(device=self.device, dtype=getattr(torch, dtype)).eval()
        self.family = family(self.tokenizer)
        self.batch_size, self.beam_size, self.max_length = batch_size, beam_size, max_length
        self.sort_by_length = sort_by_length
        self.max_len_a, self.max_len_b = max_len_a, max_len_b
        self.prefix = ""
        self.forced_bos = None
        if self.family in ("nllb", "m2m100"):
            src_code, tgt_code = (src.nllb, tgt.nllb) if self.family == "nllb" else (src.m2m, tgt.m2m)
            key = "nllb" if self.family == "nllb" else "m2m"
            if not tgt_code:
                raise UserError(f"language {tgt.code!r} has no {key} code; add custom_languages.{tgt.code}.{key}")
            self.tokenizer.src_lang = src_code
            token = tgt_code if self.family == "nllb" else f"__{tgt_code}__"
            self.forced_bos = self.tokenizer.convert_tokens_to_ids(token)
            if self.forced_bos is None or self.forced_bos == self.tokenizer.unk_token_id:
                raise UserError(f"--model {model}: tokenizer has no language token {token!r}")
        elif target_token:
            self.prefix = target_token + " "
        self.settings = {
            "backend": self.name,
            "model": model,
            "family": self.family,
            "src": src.code,
            "tgt": tgt.code,
            "batch_size": batch_size,
            "beam_size": beam_size,
            "max_length": max_length,
            "device": self.device,
            "dtype": dtype,
            "target_token": target_token,
            "max_len_a": max_len_a,
            "max_len_b": max_len_b,
        }

    def batches(self, texts: list[str]) -> list[list[int]]:
        """Indices of ``texts`` in batches; longest first when sorting (an OOM shows up at once)."""
        order = list(range(len(texts)))
        if self.sort_by_length:
            lengths = [len(ids) for ids in self.tokenizer([self.prefix + t for t in texts])["input_ids"]]
            order.sort(key=lambda i: -lengths[i])
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def translate(self, texts: list[str], on_batch: Callable[[int], None] | None = None) -> list[str]:
        out: list[str] = [""] * len(texts)
        for batch in self.batches(texts):
            for i, text in zip(batch, self._generate([texts[i] for i in batch])):
                out[i] = text
            if on_batch:
                on_batch(len(batch))
        return out

    def _generate(self, texts: list[str]) -> list[str]:
        """One batch; on GPU out-of-memory, the two halves one after the other."""
        import torch

        try:
            enc = self.tokenizer(
                [self.prefix + t for t in texts],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
            ).to(self.device)
            # fairseq's max_len_a * source + b: a batch of short sentences stops early (no runaway).
            longest = int(enc["attention_mask"].sum(dim=1).max())
            budget = min(self.max_length, int(self.max_len_a * longest) + self.max_len_b)
            kwargs = {"num_beams": self.beam_size, "max_new_tokens": budget, "do_sample": False}
            if self.forced_bos is not None:
                kwargs["forced_bos_token_id"] = self.forced_bos
            with torch.inference_mode():
                generated = self.model.generate(**enc, **kwargs)
        except torch.cuda.OutOfMemoryError:
            if len(texts) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(texts) // 2
            return self._generate(texts[:half]) + self._generate(texts[half:])
        if self.forced_bos is not None:  # not every tokenizer lists its language tokens as special
            generated = generated.masked_fill(generated == self.forced_bos, self.tokenizer.pad_token_id)
        return [text.strip() for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)]
