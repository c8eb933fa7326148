"""SQuAD v1.1 documents (XQuAD, MLQA, the demo's QA sets): the one walk over their questions.

Test sets are validated once, when prepared (``testsets.check_squad``); generation, scoring and
judging read the prepared files through the same walk, so they see the same questions in the
same order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..atomic import read_json
from ..errors import UserError


def read_squad(path: str | os.PathLike) -> dict:
    return read_json(path, "SQuAD format")


def paragraphs(doc, origin: str) -> Iterator[tuple[str, dict]]:
    """``(where, paragraph)`` in file order; ``where`` reads ``data[0].paragraphs[3]`` for messages."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise UserError(f"{origin}: not SQuAD format (needs a 'data' list)")
    for a, article in enumerate(doc["data"]):
        for p, paragraph in enumerate(article.get("paragraphs") or []):
            yield f"data[{a}].paragraphs[{p}]", paragraph


def questions(doc, origin: str) -> Iterator[tuple[dict, dict]]:
    """``(paragraph, question)`` for every question, in file order."""
    for _, paragraph in paragraphs(doc, origin):
        for qa in paragraph.get("qas") or []:
            yield paragraph, qa


def gold_answers(path: str | os.PathLike) -> dict[str, list[str]]:
    """Question id -> the texts of its gold answers."""
    doc = read_squad(path)
    return {str(qa["id"]): [a["text"] for a in qa.get("answers", [])] for _, qa in questions(doc, str(path))}
