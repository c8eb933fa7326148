"""BLEU, spBLEU, chrF and chrF++ through sacrebleu's own code (corpus level, with signatures).

spBLEU is BLEU over sacrebleu's ``flores101`` SentencePiece tokenizer. sacrebleu downloads that
model on first use; here its file is a config path, loaded into sacrebleu's own tokenizer class,
so no run downloads anything and the signature still reads ``tok:flores101``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..atomic import file_sha256
from ..errors import UserError
from .scored import Scored

SACRE_METRICS = ("bleu", "spbleu", "chrf", "chrf++")


@lru_cache(maxsize=4)
def _flores101_tokenizer(spm_model: str):
    import sentencepiece as spm
    from sacrebleu.tokenizers.tokenizer_spm import TokenizerSPM

    class LocalFlores101(TokenizerSPM):
        """sacrebleu's flores101 tokenizer (its ``__call__``), model read from a local file."""

        def __init__(self, path: str):
            self.name = "flores101"
            self.sp = spm.SentencePieceProcessor()
            try:
                self.sp.Load(path)
            except (OSError, RuntimeError) as err:
                raise UserError(f"{path}: not a SentencePiece model ({err})") from None

    return LocalFlores101(spm_model)


def make_metric(name: str, lang: str = "", spm_model: str | None = None):
    """The sacrebleu metric object; ``lang`` is the target language (BLEU picks zh/ja/ko tokenizers)."""
    from sacrebleu.metrics import BLEU, CHRF

    if name == "bleu":
        return BLEU(trg_lang=lang if lang in BLEU._TOKENIZER_MAP else "")
    if name == "spbleu":
        if not spm_model:
            raise UserError("spbleu needs the flores101 SentencePiece model: pass --spm-model (eval.spm_model)")
        if not Path(spm_model).is_file():
            raise UserError(f"{spm_model}: spBLEU SentencePiece model not found (eval.spm_model)")
        metric = BLEU(tokenize="none")
        metric.tokenizer = _flores101_tokenizer(str(spm_model))
        metric.tokenizer_signature = metric.tokenizer.signature()
        return metric
    if name == "chrf":
        return CHRF()
    if name == "chrf++":
        return CHRF(word_order=2)
    raise UserError(f"unknown sacrebleu metric {name!r}; known: {', '.join(SACRE_METRICS)}")


def sacre_reducer(name: str, lang: str = ""):
    """The corpus score of summed statistics (the tokenizer only matters for extracting them)."""
    from sacrebleu.metrics import BLEU, CHRF

    if name == "bleu":
        metric = make_metric(name, lang)
    elif name == "spbleu":
        metric = BLEU(tokenize="none")
    elif name in ("chrf", "chrf++"):
        metric = CHRF(word_order=2 if name == "chrf++" else 0)
    else:
        raise UserError(f"unknown sacrebleu metric {name!r}; known: {', '.join(SACRE_METRICS)}")
    return _reduce_with(metric)


def _reduce_with(metric):
    def reduce(sums: np.ndarray, n: int) -> np.ndarray:
        return np.array([metric._compute_score_from_stats(row.tolist()).score for row in sums])

    return reduce


def sacre_score(name: str, hyps: list[str], refs: list[str], lang: str = "", spm_model: str | None = None) -> Scored:
    metric = make_metric(name, lang, spm_model)
    rows = metric._extract_corpus_statistics(list(hyps), [list(refs)])
    stats = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)

    reduce = _reduce_with(metric)
    signature = metric.get_signature().format()
    info = {"spm_sha256": file_sha256(spm_model)} if name == "spbleu" else {}
    return Scored(name, stats, reduce, signature, info)
