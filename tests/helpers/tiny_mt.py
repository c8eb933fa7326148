"""Tiny random-weight translation models (Marian, M2M-100, NLLB) with a SentencePiece model trained here.

For the tests and bench/bench_translate.py (not shipped in the package): the real tokenizer and
model classes, so the code paths (language codes, forced BOS token, batching) are the ones a
real NLLB/M2M/OPUS-MT checkpoint takes; only the sizes are tiny and the weights random.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

SIZES = dict(
    d_model=32,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_position_embeddings=512,
)


def _train_spm(texts: list[str], prefix: Path, vocab_size: int) -> list[str]:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
        bos_id=-1,
        eos_id=2,
        pad_id=1,
        unk_id=3,
    )
    proc = spm.SentencePieceProcessor(model_file=f"{prefix}.model")
    return [proc.id_to_piece(i) for i in range(proc.get_piece_size())]


def _nllb_tokenizer(spm_model: Path):
    """A fast NLLB tokenizer (what hub checkpoints ship) built from the SentencePiece pieces directly."""
    import sentencepiece as spm
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import NllbTokenizerFast

    proc = spm.SentencePieceProcessor(model_file=str(spm_model))
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]  # fairseq's first four
    vocab += [
        (proc.id_to_piece(i), proc.get_score(i))
        for i in range(proc.get_piece_size())
        if not (proc.is_control(i) or proc.is_unknown(i))
    ]
    backend = Tokenizer(models.Unigram(vocab, unk_id=3))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    return NllbTokenizerFast(
        tokenizer_object=backend,
        src_lang="eng_Latn",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )


def make_tiny_mt(out: str | Path, family: str, texts: list[str], vocab_size: int = 200, seed: int = 0, **shape) -> Path:
    """Write a tiny ``family`` ("marian", "m2m100", "nllb") model + tokenizer loadable with Auto* classes.

    ``shape`` overrides the config's sizes (``d_model``, ``encoder_layers``, ...).
    """
    shape = SIZES | shape
    import torch
    from transformers import (
        M2M100Config,
        M2M100ForConditionalGeneration,
        M2M100Tokenizer,
        MarianConfig,
        MarianMTModel,
        MarianTokenizer,
    )

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pieces = _train_spm(texts, Path(tmp) / "sp", vocab_size)
        torch.manual_seed(seed)
        if family == "marian":
            vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}
            for piece in pieces:
                vocab.setdefault(piece, len(vocab))
            for name in ("source.spm", "target.spm"):
                shutil.copy(Path(tmp) / "sp.model", Path(tmp) / name)
            (Path(tmp) / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
            tokenizer = MarianTokenizer(
                str(Path(tmp) / "source.spm"), str(Path(tmp) / "target.spm"), str(Path(tmp) / "vocab.json")
            )
            config = MarianConfig(
                vocab_size=len(vocab),
                pad_token_id=2,
                eos_token_id=0,
                decoder_start_token_id=2,
                forced_eos_token_id=0,
                **shape,
            )
            model = MarianMTModel(config)
        elif family == "m2m100":
            vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
            for piece in pieces:
                vocab.setdefault(piece, len(vocab))
            (Path(tmp) / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
            tokenizer = M2M100Tokenizer(str(Path(tmp) / "vocab.json"), str(Path(tmp) / "sp.model"))
            config = M2M100Config(vocab_size=max(tokenizer.lang_token_to_id.values()) + 1, **shape)
            model = M2M100ForConditionalGeneration(config)
        elif family == "nllb":
            tokenizer = _nllb_tokenizer(Path(tmp) / "sp.model")
            model = M2M100ForConditionalGeneration(M2M100Config(vocab_size=len(tokenizer), **shape))
        else:
            raise ValueError(f"unknown family {family!r}; known: marian, m2m100, nllb")
        tokenizer.save_pretrained(out)
        model.save_pretrained(out)
    return out
