"""The metric registry: every metric is registered once, by name, with its kind and needs.

``compute(name, hyps, refs, ...)`` is the one entry point the CLI, the scoring of generations and
the significance tests use, so a metric means the same thing everywhere. Importing this module is
cheap (the CLI lists the names at start-up); each metric imports what it needs when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..args import setting
from ..errors import UserError

if TYPE_CHECKING:
    from .scored import Scored


@dataclass(frozen=True)
class MetricOptions:
    """Where the metrics' models are; batch size and device change how scoring runs, not its result."""

    spm_model: str | None = setting(None, help="flores101 SentencePiece model file (spbleu)")
    comet_model: str | None = setting(
        None, help="local COMET checkpoint directory (checkpoints/model.ckpt + hparams.yaml)"
    )
    comet_encoder: str | None = setting(None, help="local directory of COMET's encoder tokenizer/config")
    bleurt_model: str | None = setting(None, help="local BLEURT (bleurt-pytorch) model directory")
    batch_size: int = setting(64, runtime=True)
    device: str = setting("auto", runtime=True, help="auto, cpu or cuda[:N] (COMET, BLEURT)")


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
    return comet_score(
        hyps, refs, srcs, opts.comet_model, batch_size=opts.batch_size, device=opts.device, encoder=opts.comet_encoder
    )


def _bleurt(hyps, refs, srcs, lang, opts: MetricOptions):
    from .neural import bleurt_score

    if not opts.bleurt_model:
        raise UserError("bleurt needs a local checkpoint: pass --bleurt-model (eval.bleurt_model)")
    return bleurt_score(hyps, refs, opts.bleurt_model, batch_size=opts.batch_size, device=opts.device)


def _qa(name):
    def compute(hyps, refs, srcs, lang, opts: MetricOptions):
        from . import qa
        from .scored import segment_mean

        fn = qa.QA_FUNCTIONS.get(name)  # match has its own signature (first gold answer only)
        values = []
        for pred, golds in zip(hyps, refs):
            golds = [golds] if isinstance(golds, str) else list(golds)
            values.append(qa.match(pred, golds) if name == "match" else qa.best_over_golds(fn, pred, golds, lang))
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
        Metric(
            "match",
            "qa",
            _qa("match"),
            "the authors' (Table 6 'exact match'): first gold answer, stripped "
            "and lower-cased, is a substring of the lower-cased prediction, %",
        ),
    ]
}


def reducer(name: str, lang: str = ""):
    """The function from summed per-segment statistics to corpus scores, for stored statistics."""
    from .sacre import SACRE_METRICS, sacre_reducer
    from .scored import mean_reducer

    if name in SACRE_METRICS:
        return sacre_reducer(name, lang)
    return mean_reducer(100.0)  # comet, bleurt, the QA metrics and the judge: mean of segment values, x100


def get(name: str) -> Metric:
    if name not in METRICS:
        raise UserError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return METRICS[name]


def names(kind: str) -> list[str]:
    """The registered metrics of one kind (mt or qa)."""
    return [m.name for m in METRICS.values() if m.kind == kind]


def check_names(metric_names: list[str], kind: str) -> list[str]:
    for name in metric_names:
        if get(name).kind != kind:
            raise UserError(f"metric {name!r} is a {get(name).kind} metric, not {kind}")
    return list(metric_names)


def parse_list(text: str | None, kind: str) -> list[str]:
    """``bleu,chrf`` -> checked names of metrics of ``kind``."""
    return check_names([n.strip() for n in (text or "").split(",") if n.strip()], kind)


def compute(name: str, hyps, refs, *, srcs=None, lang: str = "", options: MetricOptions | None = None) -> Scored:
    if len(hyps) != len(refs) or (srcs is not None and len(srcs) != len(hyps)):
        raise UserError(
            f"{name}: {len(hyps)} hypotheses but {len(refs)} references"
            + (f" and {len(srcs)} sources" if srcs is not None else "")
        )
    return get(name).compute(
        list(hyps), list(refs), None if srcs is None else list(srcs), lang, options or MetricOptions()
    )
