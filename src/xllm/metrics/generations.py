"""Reading one (task, direction) of a model's generations with its references and sources.

A generation file is ``DIR/TASK/DIRECTION.jsonl`` with lines ``{id, prediction, reference, ...}``
(reference: the target sentence for translation, the list of gold answers for QA). The plan item
says which kind it is: ``source``/``reference`` files for translation, a SQuAD ``testset`` for QA.
Sources (COMET needs them) come from the record when present, else from the plan's source file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..atomic import read_json, read_jsonl, read_lines
from ..data.squad import gold_answers
from ..errors import UserError


@dataclass
class ItemGenerations:
    task: str
    direction: str
    lang: str  # the plan item's language (the scores' lang column)
    kind: str  # mt | qa
    target_lang: str  # MT: the language of the output; QA: the answers' language (normalization)
    ids: list
    hyps: list[str]
    refs: list  # str per item (mt) or list[str] (qa)
    srcs: list[str] | None


def load_plan(path: str | Path) -> list[dict]:
    plan = read_json(path, "plan items", list)
    for i, item in enumerate(plan):
        if not isinstance(item, dict) or not {"task", "direction", "lang"} <= item.keys():
            raise UserError(f"{path}: item {i} needs task, direction and lang")
        if not {"testset", "reference", "prompts"} & item.keys():
            raise UserError(
                f"{path}: item {i} ({item['task']}/{item['direction']}) has no testset, reference or prompts"
            )
    return plan


def item_kind(item: dict) -> str:
    return "qa" if "testset" in item else "mt"


def target_lang(item: dict) -> str:
    """MT: the direction's target; QA: the answers' (context) language — MLQA settings are C-Q."""
    if item_kind(item) == "mt":
        return item.get("tgt_lang") or item["direction"].split("-")[-1]
    if "answer_lang" in item:
        return item["answer_lang"]
    if item["task"] == "mlqa" and "-" in item["direction"]:
        return item["direction"].split("-")[0]
    return item["lang"]


def _index(record_id, position: int) -> int:
    try:
        return int(record_id)
    except (TypeError, ValueError):
        return position


def load_item(gen_dir: str | Path, item: dict, need_sources: bool = False) -> ItemGenerations:
    path = Path(gen_dir) / item["task"] / f"{item['direction']}.jsonl"
    if not path.is_file():
        raise UserError(f"{path}: no generations for plan item {item['task']}/{item['direction']}")
    try:
        records = read_jsonl(path)
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not JSONL ({err})") from None
    kind = item_kind(item)
    if not records:
        raise UserError(f"{path}: empty (no generations to score)")
    for i, rec in enumerate(records):
        if "prediction" not in rec:
            raise UserError(f"{path}: line {i + 1} has no prediction")
    ids = [rec.get("id", i) for i, rec in enumerate(records)]
    hyps = [str(rec["prediction"]) for rec in records]
    if all("reference" in rec for rec in records):
        refs = [rec["reference"] for rec in records]
    elif kind == "mt":
        lines = read_lines(item["reference"])
        refs = [lines[_index(r, i)] for i, r in enumerate(ids)]
    else:
        gold = gold_answers(item["testset"])
        missing = [r for r in ids if str(r) not in gold]
        if missing:
            raise UserError(f"{path}: id {missing[0]!r} is not in {item['testset']}")
        refs = [gold[str(r)] for r in ids]
    if kind == "qa":
        refs = [[r] if isinstance(r, str) else list(r) for r in refs]
    srcs = None
    if kind == "mt" and need_sources:
        if all("source" in rec for rec in records):
            srcs = [rec["source"] for rec in records]
        elif "source" in item:
            lines = read_lines(item["source"])
            srcs = [lines[_index(r, i)] for i, r in enumerate(ids)]
    return ItemGenerations(
        item["task"], item["direction"], item["lang"], kind, target_lang(item), ids, hyps, refs, srcs
    )
