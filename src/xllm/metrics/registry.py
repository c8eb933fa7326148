"""The metric registry: every metric is registered once, by name, with its kind and needs.

``compute(name, hyps, refs, ...)`` is the one entry point the CLI, the scoring of generations and
the significance tests use, so a metric means the same thing everywhere. Importing this module is
cheap (the CLI lists the names at start-up); each metric imports what it needs when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    from .scored import Scored


@dataclass(frozen=True)
class MetricOptions:
    spm_model: str | None = None
    comet_model: str | None = None
    comet_encoder: str | None = None
    bleurt_model: str | None = None
    batch_size: int = 64
    device: str = "auto"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "mt": reference is one sentence; "qa": reference is a list of gold answers
    compute: Callable[..., Scored]
    description: str


def _sacre(name):
    def compute(hyps, refs, srcs, lang, opts: MetricOptions):
        from .sacre import sacre_score

        return sacre_score(name, hyps, refs, lang, opts.spm_model)

    return compute


def _comet(hyps, refs, srcs, lang, opts: MetricOptions):
    from .neural import comet_score

    if not opts.comet_model:
        raise UserError("comet needs a local checkpoint: pass --comet-model (eval.comet_model)")
    return comet_score(hyps, refs, srcs, opts.comet_model, batch_size=opts.batch_size,
                       device=opts.device, encoder=opts.comet_encoder)


def _bleurt(hyps, refs, srcs, lang, opts: MetricOptions):
    from .neural import bleurt_score

    if not opts.bleurt_model:
        raise UserError("bleurt needs a local checkpoint: pass --bleurt-model (eval.bleurt_model)")
    return bleurt_score(hyps, refs, opts.bleurt_model, batch_size=opts.batch_size, device=opts.device)


def _qa(name):
    def compute(hyps, refs, srcs, lang, opts: MetricOptions):
        from . import qa
        from .scored import segment_mean

        fn = qa.QA_FUNCTIONS[name]
        values = []
        for pred, golds in zip(hyps, refs):
            golds = [golds] if isinstance(golds, str) else list(golds)
            values.append(qa.best_over_golds(fn, pred, golds, lang))
        return segment_mean(name, values, qa.qa_signature(name, lang), scale=100.0)

    return compute


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("bleu", "mt", _sacre("bleu"), "sacreBLEU, 13a tokens (zh/ja/ko tokenizers for those targets)"),
        Metric("spbleu", "mt", _sacre("spbleu"), "sacreBLEU over the flores101 SentencePiece tokens"),
        Metric("chrf", "mt", _sacre("chrf"), "chrF2 (character 6-grams)"),
        Metric("chrf++", "mt", _sacre("chrf++"), "chrF++ (chrF plus word bigrams)"),
        Metric("comet", "mt", _comet, "COMET (wmt22-comet-da by default), x100"),
        Metric("bleurt", "mt", _bleurt, "BLEURT (BLEURT-20 by default), x100"),
        Metric("em", "qa", _qa("em"), "exact match after MLQA normalization, %"),
        Metric("f1", "qa", _qa("f1"), "token F1 after MLQA normalization, %"),
        Metric("contains", "qa", _qa("contains"), "normalized gold answer occurs in the prediction, %"),
    ]
}


def get(name: str) -> Metric:
    if name not in METRICS:
        raise UserError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return METRICS[name]


def names(kind: str) -> list[str]:
    """The metrics of ``kind`` ("mt" or "qa"), in registry order."""
    return [name for name, metric in METRICS.items() if metric.kind == kind]


def parse_list(text: str | None, kind: str) -> list[str]:
    """``bleu,chrf`` -> checked names of metrics of ``kind``."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    for name in names:
        if get(name).kind != kind:
            raise UserError(f"metric {name!r} is a {get(name).kind} metric, not {kind}")
    return names


def compute(name: str, hyps, refs, *, srcs=None, lang: str = "", options: MetricOptions | None = None) -> Scored:
    if len(hyps) != len(refs) or (srcs is not None and len(srcs) != len(hyps)):
        raise UserError(f"{name}: {len(hyps)} hypotheses but {len(refs)} references"
                        + (f" and {len(srcs)} sources" if srcs is not None else ""))
    return get(name).compute(list(hyps), list(refs), None if srcs is None else list(srcs), lang,
                             options or MetricOptions())
