"""Significance between two systems on the same test items (the paper's "*": p < 0.1).

Both systems' generations of one (task, direction) are aligned by item id, scored with the same
registered metric, and compared with a paired bootstrap over items.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import read_jsonl
from ..errors import UserError
from . import registry
from .bootstrap import paired_bootstrap
from .generations import load_item


def _item(task: str, direction: str, records: list[dict], lang: str | None) -> dict:
    qa = any(isinstance(r.get("reference"), list) for r in records) or task in ("xquad", "mlqa")
    item = {"task": task, "direction": direction, "lang": lang or direction.split("-")[-1]}
    if qa:
        item["testset"] = ""
        if lang:
            item["answer_lang"] = lang
    else:
        item["reference"] = ""
    return item


def compare_generations(
    dir_a,
    dir_b,
    task: str,
    direction: str,
    metric: str,
    n_boot: int = 1000,
    seed: int = 0,
    *,
    lang: str | None = None,
    options: registry.MetricOptions | None = None,
) -> dict:
    """Paired bootstrap of system b against system a: {a, b, delta, p_value, n, ...}.

    Generation records must carry their references. ``lang`` is the language the metric
    normalizes or tokenizes for (default: the direction's target; MLQA: its context language).
    """
    path_a = Path(dir_a) / task / f"{direction}.jsonl"
    if not path_a.is_file():
        raise UserError(f"{path_a}: no generations")
    item = _item(task, direction, read_jsonl(path_a), lang)
    kind = registry.get(metric).kind
    if kind != ("qa" if "testset" in item else "mt"):
        raise UserError(f"metric {metric!r} ({kind}) does not apply to {task}/{direction}")
    need_src = metric == "comet"
    a = load_item(dir_a, item, need_sources=need_src)
    b = load_item(dir_b, item, need_sources=need_src)
    order = {str(i): k for k, i in enumerate(b.ids)}
    if len(order) != len(b.ids) or set(order) != {str(i) for i in a.ids} or len(a.ids) != len(b.ids):
        raise UserError(f"{task}/{direction}: {dir_a} and {dir_b} do not hold the same items")
    perm = [order[str(i)] for i in a.ids]
    b_hyps = [b.hyps[k] for k in perm]
    opts = options or registry.MetricOptions()
    score_a = registry.compute(metric, a.hyps, a.refs, srcs=a.srcs, lang=a.target_lang, options=opts)
    score_b = registry.compute(metric, b_hyps, a.refs, srcs=a.srcs, lang=a.target_lang, options=opts)
    result = paired_bootstrap(score_a, score_b, n_boot=n_boot, seed=seed)
    result.update(metric=metric, task=task, direction=direction, signature=score_a.signature)
    return result
