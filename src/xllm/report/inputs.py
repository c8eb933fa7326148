"""Reading the result files the report is drawn from, with one-line errors for bad input.

The readers are tolerant of extra keys and columns (other stages add fields over time) but
strict about the ones a plot needs, so a broken input fails here, naming the file and key,
rather than deep inside matplotlib.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..args import key_values
from ..errors import UserError
from ..languages import BUILTIN
from ..metrics.columns import COLUMNS

SCORE_COLUMNS = COLUMNS  # the long score table (xllm.metrics.score)
REQUIRED_SCORE_COLUMNS = ("model", "recipe", "task", "direction", "metric", "value")


def _float(text: str | None) -> float | None:
    if text is None or str(text).strip() in ("", "nan", "NaN", "None"):
        return None
    return float(text)


def read_scores(path: str | Path) -> list[dict]:
    """Rows of the long score table; ``value``/``ci_low``/``ci_high`` become floats (or None)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_SCORE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(SCORE_COLUMNS)})")
        rows = []
        for lineno, raw in enumerate(reader, start=2):
            row = {k: (v if v is not None else "") for k, v in raw.items() if k is not None}
            for key in ("value", "ci_low", "ci_high"):
                try:
                    row[key] = _float(row.get(key))
                except ValueError:
                    raise UserError(f"{path}: line {lineno}: {key} {row.get(key)!r} is not a number") from None
            if row["value"] is None:
                continue  # a metric that could not be computed; nothing to draw
            rows.append(row)
    return rows


def number(data: dict, key: str, path, where: str = "") -> float:
    """``data[key]`` as a finite float, or a one-line error naming the file and key."""
    label = f"{where}{key}"
    if key not in data:
        raise UserError(f"{path}: missing key {label!r}")
    try:
        value = float(data[key])
    except (TypeError, ValueError):
        raise UserError(f"{path}: {label} = {data[key]!r} is not a number") from None
    if not math.isfinite(value):
        raise UserError(f"{path}: {label} = {data[key]!r} is not finite")
    return value


def eval_lang(row: dict) -> str:
    """The non-English language a score is about, whatever the ``lang`` column holds.

    FLORES rows are ``en-X``/``X-en`` (the scorer's ``lang`` is the target, so ``en`` for X→En);
    MLQA settings are ``CONTEXT-QUESTION``; XQuAD directions are the language itself.
    """
    direction = row.get("direction", "")
    if "-" in direction:
        src, tgt = direction.split("-", 1)
        if row.get("task") == "flores":
            return tgt if src == "en" else src
        return tgt
    return direction or row.get("lang", "")


def direction_kind(direction: str, task: str = "flores") -> str:
    """``en-x`` or ``x-en`` (translation direction; for a QA setting CONTEXT-QUESTION, which side
    is English), or ``x`` (no English: a QA language, or MLQA with context and question in X)."""
    if "-" not in direction:
        return "x"
    src, tgt = direction.split("-", 1)
    if task != "flores" and src == tgt:
        return "x"
    return "en-x" if src == "en" else "x-en"


def kind_title(kind: str, task: str) -> str:
    """How a panel or column group of this kind is named."""
    if task == "flores":
        return {"en-x": "English → X", "x-en": "X → English"}.get(kind, "")
    return {"en-x": "English context, X question", "x-en": "X context, English question"}.get(kind, "")


SUFFIXES = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}


def scale_key(scale: str) -> float:
    """Order scales and budgets numerically (``300k`` < ``1.2M``); ``full`` is the largest, an empty
    or unparseable one (a budget named ``small``) the smallest."""
    if scale in ("", None):
        return -1.0
    if scale == "full":
        return math.inf
    factor = SUFFIXES.get(scale[-1], 1.0)
    try:
        return float(scale[:-1] if factor != 1.0 else scale) * factor
    except ValueError:
        return -1.0


def lang_names(pairs: list[str] | None) -> dict[str, str]:
    """Display names: the built-in table, overridden by ``CODE=NAME`` arguments."""
    names = {code: lang.name for code, lang in BUILTIN.items()}
    names.update({code.strip(): name.strip() for code, name in key_values(pairs, "--lang-name").items()})
    return names


def lang_label(code: str, names: dict[str, str]) -> str:
    name = names.get(code)
    return f"{name} ({code})" if name and name != code else code


def ordered_langs(found, order: list[str] | None = None) -> list[str]:
    """``order`` first (when given, only those), else the order in which languages were found."""
    found = list(dict.fromkeys(found))
    if order:
        return [lang for lang in order if lang in found]
    return found
