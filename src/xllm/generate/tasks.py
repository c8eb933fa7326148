"""Plan items -> examples: the prompt parts and reference of every test example, from tasks.yaml.

A plan item names a task, a direction and its test files (the workflow's ``eval_plan``). Prompts
are data: the translation instruction is ``xllm.prompts``' (the authors' first), the QA prompts are
``tasks.yaml``'s, in two sets: ``authors`` (their code's, exactly) and ``ours``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from ..atomic import read_lines
from ..data import squad
from ..errors import UserError
from ..prompts import TRANSLATION_INSTRUCTION, translation_instruction

TASKS_FILE = Path(__file__).with_name("tasks.yaml")
QA_PROMPT_SETS = ("authors", "ours")


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


def qa_prompt(lang: str, table: dict | None = None, prompts: str = "authors") -> dict:
    """The QA prompt of set ``prompts`` for ``lang``; the set's English one for languages it has
    none for (the demo's synthetic languages, whose QA data the model learned in English)."""
    sets = (table or task_table())["qa_prompts"]
    if prompts not in sets:
        raise UserError(f"QA prompts {prompts!r}: not one of {', '.join(sets)}")
    return sets[prompts].get(lang, sets[prompts]["en"])


def _require(item: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if not item.get(key)]
    if missing:
        raise UserError(f"{where}: missing {', '.join(missing)}")


def translation_examples(item: dict, spec: dict, lang_name, where: str) -> list[Example]:
    _require(item, ("source", "reference", "src_lang", "tgt_lang"), where)
    sources, references = read_lines(item["source"]), read_lines(item["reference"])
    if len(sources) != len(references):
        raise UserError(f"{item['reference']}: {len(references)} lines, but {item['source']} has {len(sources)}")
    template = spec.get("instruction") or TRANSLATION_INSTRUCTION
    instruction = translation_instruction(lang_name(item["src_lang"]), lang_name(item["tgt_lang"]), template)
    return [Example(str(i), instruction, src, ref) for i, (src, ref) in enumerate(zip(sources, references))]


def qa_examples(item: dict, where: str, prompts: str = "authors") -> list[Example]:
    """One example per question; the authors' set strips context and question, as their code does."""
    _require(item, ("testset", "lang"), where)
    path = item["testset"]
    doc = squad.read_squad(path)
    try:
        prompt = qa_prompt(item.get("prompt_lang") or item["lang"], prompts=prompts)
        clean = str.strip if prompts == "authors" else (lambda text: text)
        examples, seen = [], set()
        for paragraph, qa in squad.questions(doc, path):
            qid = str(qa["id"])
            if qid in seen:
                raise UserError(f"{path}: question id {qid!r} occurs twice")
            seen.add(qid)
            text = prompt["input"].format(context=clean(paragraph["context"]), question=clean(qa["question"]))
            answers = [answer["text"] for answer in qa.get("answers", [])]
            examples.append(Example(qid, prompt["instruction"], text, answers))
    except (KeyError, TypeError) as err:
        raise UserError(f"{path}: not SQuAD format (missing {err})") from None
    return examples


def instruction_examples(item: dict, where: str) -> list[Example]:
    """Open instructions (MI-Eval): one example per line of the item's ``prompts`` JSONL."""
    from ..atomic import read_jsonl

    _require(item, ("prompts",), where)
    examples = []
    for n, row in enumerate(read_jsonl(item["prompts"])):
        if not isinstance(row, dict) or not isinstance(row.get("instruction"), str):
            raise UserError(f"{item['prompts']}: line {n + 1} has no instruction")
        examples.append(Example(str(row.get("id", n)), row["instruction"], str(row.get("input") or ""), ""))
    return examples


def load_examples(item: dict, lang_name, index: int = 0, qa_prompts: str = "authors") -> list[Example]:
    """Every example of one plan item, in file order. ``lang_name(code)`` gives prompt names;
    ``qa_prompts`` is the QA prompt set (``authors`` or ``ours``)."""
    where = f"plan item {index} ({item.get('task')}/{item.get('direction')})"
    _require(item, ("task", "direction"), where)
    tasks = task_table()["tasks"]
    if item["task"] not in tasks:
        raise UserError(f"{where}: unknown task {item['task']!r}; known: {', '.join(tasks)}")
    spec = tasks[item["task"]]
    if spec["kind"] == "translation":
        return translation_examples(item, spec, lang_name, where)
    if spec["kind"] == "instruction":
        return instruction_examples(item, where)
    return qa_examples(item, where, qa_prompts)
