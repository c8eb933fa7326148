"""Per-segment statistics of a model's scores, kept beside its score table.

``score_model`` writes them (``results/scores/{model}.segments.npz``); confidence intervals
(``gather-scores``) and the scaling laws' segment bootstrap are computed from them later, so the
number of resamples is a setting of those steps and not of scoring. One array per
(task, direction, metric) under the key ``task|direction|metric``, and a JSON index with each
entry's metric, target language and signature, from which the corpus-score function is rebuilt.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from ..errors import UserError
from .scored import Scored

INDEX = "__index__"


def segments_path(scores_csv: str | Path) -> Path:
    path = Path(scores_csv)
    return path.with_name(path.name.removesuffix(".csv") + ".segments.npz")


def save(path: str | Path, entries: list[tuple[str, str, str, Scored]]) -> None:
    """``entries``: (task, direction, target language, Scored) tuples."""
    arrays, index = {}, []
    for task, direction, lang, scored in entries:
        key = f"{task}|{direction}|{scored.metric}"
        arrays[key] = np.asarray(scored.stats, dtype=np.float64)
        index.append(
            {
                "key": key,
                "task": task,
                "direction": direction,
                "metric": scored.metric,
                "lang": lang,
                "signature": scored.signature,
            }
        )
    arrays[INDEX] = np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def load(path: str | Path) -> dict[tuple[str, str, str], Scored]:
    """(task, direction, metric) -> Scored, its corpus-score function rebuilt from the metric name."""
    from .registry import reducer

    try:
        with np.load(path, allow_pickle=False) as data:
            index = json.loads(bytes(data[INDEX]).decode("utf-8"))
            stats = {entry["key"]: np.array(data[entry["key"]]) for entry in index}
    except FileNotFoundError:
        raise UserError(f"{path}: no such segment statistics file") from None
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{path}: not a segment statistics file ({err})") from None
    return {
        (e["task"], e["direction"], e["metric"]): Scored(
            e["metric"], stats[e["key"]], reducer(e["metric"], e["lang"]), e["signature"]
        )
        for e in index
    }
