"""Plan items -> examples: the prompt parts and reference of every test example, from tasks.yaml.

A plan item names a task, a direction and its test files (the workflow's ``eval_plan``). Prompts
are data (``tasks.yaml``): the paper's translation instruction, its language-specific QA prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from ..atomic import read_lines
from ..data import squad
from ..errors import UserError

TASKS_FILE = Path(__file__).with_name("tasks.yaml")


@dataclass(frozen=True)
class Example:
    id: str
    instruction: str
    input: str
    reference: str | list[str]


@cache
def task_table(path: str = str(TASKS_FILE)) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def qa_prompt(lang: str, table: dict | None = None) -> dict:
    """The paper's QA prompt for ``lang``; English for languages it has none for (the demo's)."""
    prompts = (table or task_table())["qa_prompts"]
    return prompts.get(lang, prompts["en"])


def _require(item: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if not item.get(key)]
    if missing:
        raise UserError(f"{where}: missing {', '.join(missing)}")


def translation_examples(item: dict, spec: dict, lang_name, where: str) -> list[Example]:
    _require(item, ("source", "reference", "src_lang", "tgt_lang"), where)
    sources, references = read_lines(item["source"]), read_lines(item["reference"])
    if len(sources) != len(references):
        raise UserError(f"{item['reference']}: {len(references)} lines, but {item['source']} has {len(sources)}")
    instruction = spec["instruction"].format(src=lang_name(item["src_lang"]), tgt=lang_name(item["tgt_lang"]))
    return [Example(str(i), instruction, src, ref) for i, (src, ref) in enumerate(zip(sources, references))]


def qa_examples(item: dict, where: str) -> list[Example]:
    _require(item, ("testset", "lang"), where)
    path = item["testset"]
    doc = squad.read_squad(path)
    try:
        prompt = qa_prompt(item.get("prompt_lang") or item["lang"])
        examples, seen = [], set()
        for paragraph, qa in squad.questions(doc, path):
            qid = str(qa["id"])
            if qid in seen:
                raise UserError(f"{path}: question id {qid!r} occurs twice")
            seen.add(qid)
            text = prompt["input"].format(context=paragraph["context"], question=qa["question"])
            answers = [answer["text"] for answer in qa.get("answers", [])]
            examples.append(Example(qid, prompt["instruction"], text, answers))
    except (KeyError, TypeError) as err:
        raise UserError(f"{path}: not SQuAD format (missing {err})") from None
    return examples


def load_examples(item: dict, lang_name, index: int = 0) -> list[Example]:
    """Every example of one plan item, in file order. ``lang_name(code)`` gives prompt names."""
    where = f"plan item {index} ({item.get('task')}/{item.get('direction')})"
    _require(item, ("task", "direction"), where)
    tasks = task_table()["tasks"]
    if item["task"] not in tasks:
        raise UserError(f"{where}: unknown task {item['task']!r}; known: {', '.join(tasks)}")
    spec = tasks[item["task"]]
    if spec["kind"] == "translation":
        return translation_examples(item, spec, lang_name, where)
    return qa_examples(item, where)
