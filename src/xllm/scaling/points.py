"""Read the (pairs, score) points a law is fitted to: a ``pairs,score`` CSV or the long scores table."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..errors import UserError

SCORE_COLUMNS = ("model", "recipe", "lang", "scale", "task", "direction", "metric", "value")


def _number(text: str, path, line: int, column: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UserError(f"{path}:{line}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UserError(f"{path}:{line}: {column} {text!r} is not a finite number")
    return value


def read_points_csv(path: str | Path) -> tuple[list[float], list[float]]:
    """``pairs,score`` rows (header required)."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"pairs", "score"} - set(reader.fieldnames or ())
        if missing:
            raise UserError(f"{path}: needs columns pairs,score; missing {', '.join(sorted(missing))}")
        pairs, scores = [], []
        for line, row in enumerate(reader, start=2):
            pairs.append(_number(row["pairs"], path, line, "pairs"))
            scores.append(_number(row["score"], path, line, "score"))
            if pairs[-1] <= 0:
                raise UserError(f"{path}: line {line}: pairs {row['pairs']!r} is not a positive number of pairs")
            if not 0 <= scores[-1] <= 100:
                raise UserError(f"{path}: line {line}: score {row['score']!r} is not on the 0-100 scale of the law")
    distinct = sorted(set(pairs))
    if len(distinct) < 3:
        raise UserError(
            f"{path}: a law needs at least 3 distinct scales, got {len(distinct)} "
            f"({', '.join(f'{p:g}' for p in distinct)}); repeated scales add no information on β"
        )
    return pairs, scores


def direction_of(lang: str, direction: str) -> str:
    """``en-x`` → ``en-L``, ``x-en`` → ``L-en``; an explicit ``en-ar`` passes through."""
    if direction == "en-x":
        return f"en-{lang}"
    if direction == "x-en":
        return f"{lang}-en"
    return direction


def read_score_points(
    paths, lang: str, task: str, metric: str, direction: str, recipe: str | None = "coit"
) -> list[dict]:
    """Rows of the long scores table for one language/task/metric/direction with a numeric scale;
    ``source`` is the index in ``paths`` of the file a point came from (its segments file's index)."""
    want = direction_of(lang, direction)
    points, seen = [], set()
    for source, path in enumerate(paths):
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(SCORE_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise UserError(f"{path}: not a scores table; missing columns {', '.join(sorted(missing))}")
            for line, row in enumerate(reader, start=2):
                if (row["lang"], row["task"], row["metric"], row["direction"]) != (lang, task, metric, want):
                    continue
                if recipe and row["recipe"] != recipe:
                    continue
                try:
                    scale = float(row["scale"])
                except (TypeError, ValueError):
                    continue  # `full` or empty: not a point on the curve
                if not row["value"]:
                    continue
                if row["model"] in seen:
                    continue  # the same model's score listed in two files counts once
                seen.add(row["model"])
                points.append(
                    {
                        "pairs": scale,
                        "score": _number(row["value"], path, line, "value"),
                        "model": row["model"],
                        "source": source,
                    }
                )
    points.sort(key=lambda p: (p["pairs"], p["model"]))
    return points
