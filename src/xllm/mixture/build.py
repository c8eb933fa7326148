"""Build one model's training mixture from its recipe: read parts, shuffle with the seed, write.

Rows are ``{"id", "instruction", "input", "output", "kind", "lang"}`` (monolingual rows carry
``text``). Translation rows get the authors' instructions: pair k of a language's corpus gets
template k mod n (their 33 by default), or, with ``instruction_choice="random"``, a draw of the
seeded generator. The manifest counts rows (and tokens, given a tokenizer) per part and
language, so a reader sees what each model was trained on.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..atomic import atomic_open, read_json, write_json
from ..errors import UserError
from ..prompts import INSTRUCTION_CHOICES, pick_template, translation_instruction, translation_templates
from ..provenance import provenance
from .recipes import Recipe


def _read_alpaca(path: Path) -> list[dict]:
    return read_json(path, "Alpaca items", list)


def _read_pairs(path: Path, limit: int | None) -> Iterator[dict]:
    """The first ``limit`` pairs of a JSONL file, one at a time."""
    n = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and n >= limit:
                break
            if line.strip():
                n += 1
                yield json.loads(line)
    if limit is not None and n < limit:
        raise UserError(f"{path}: has {n} pairs, the mixture needs {limit}")


class _Staged:
    """The mixture's rows as JSON lines in a temporary file, only their offsets in memory (a
    1.2M-pair mixture as Python dicts took GBs). ``write_shuffled`` writes them in the order of
    ``rng.shuffle`` on a list of that length: the same order as shuffling the rows themselves."""

    def __init__(self, directory: Path):
        self._file = tempfile.TemporaryFile(dir=directory)
        self._offsets = array("q", [0])  # where each line starts, and the end

    def append(self, row: dict) -> None:
        self._file.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
        self._offsets.append(self._file.tell())

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _line(self, i: int) -> bytes:
        """Line ``i``, by one read of its bytes (a seek and ``readline`` read a buffer's worth a
        row: 8 KB for a ~0.5 KB line, 40 GB of reads for the paper's largest mixture)."""
        start = self._offsets[i]
        return os.pread(self._file.fileno(), self._offsets[i + 1] - start, start)

    def rows(self, order=None) -> Iterator[dict]:
        self._file.flush()
        for i in range(len(self)) if order is None else order:
            yield json.loads(self._line(i))

    def write_shuffled(self, rng: random.Random, out: Path) -> None:
        """The staged lines copied as they are (they are the rows' JSON), in the shuffled order."""
        order = array("q", range(len(self)))  # 8 bytes a row (a list of ints: ~36)
        rng.shuffle(order)
        self._file.flush()
        with atomic_open(out, "wb", encoding=None) as handle:
            for i in order:
                handle.write(self._line(i))

    def __enter__(self) -> _Staged:
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()


def build_mixture(
    recipe: Recipe,
    langs: list[str],
    alpaca: dict[str, Path],
    pairs: dict[str, Path],
    pair_counts: dict[str, int | None],
    lang_names: dict[str, str],
    templates: list[str] | str | None,
    seed: int,
    out: Path,
    manifest: Path,
    monolingual: dict[str, Path] | None = None,
    tokenizer_dir: str | None = None,
    meta: dict | None = None,
    instruction_choice: str = "rotate",
) -> dict:
    """Write the shuffled mixture and its manifest; return the manifest.

    ``templates``: translation instruction templates, or a set name (``authors``: their 33,
    ``single``: the first); None is ``authors``."""
    rng = random.Random(seed)
    try:
        templates = translation_templates(templates)
    except ValueError as err:
        raise UserError(str(err)) from None
    if instruction_choice not in INSTRUCTION_CHOICES:
        raise UserError(f"instruction choice {instruction_choice!r} is not one of {', '.join(INSTRUCTION_CHOICES)}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with _Staged(Path(out).parent) as rows:
        parts_count: Counter = Counter()

        def expand(lang_spec: str) -> list[str]:
            if lang_spec == "en":
                return ["en"]
            if lang_spec == "x":
                return list(langs)
            if lang_spec == "all":
                return list(langs)
            raise UserError(f"recipe {recipe.name}: unknown part language {lang_spec!r} (en, x or all)")

        for part in recipe.parts:
            if part.kind == "alpaca":
                for lang in expand(part.lang):
                    if lang not in alpaca:
                        raise UserError(f"recipe {recipe.name}: no Alpaca file given for {lang!r}")
                    items = _read_alpaca(alpaca[lang])[: part.size]
                    for item in items:
                        rows.append(
                            {
                                "id": f"alpaca-{lang}:{item['id']}",
                                "instruction": item["instruction"],
                                "input": item.get("input", ""),
                                "output": item["output"],
                                "kind": "alpaca",
                                "lang": lang,
                            }
                        )
                    parts_count[f"alpaca:{lang}"] += len(items)
            elif part.kind == "translation":
                for lang in langs:
                    if lang not in pairs:
                        raise UserError(f"recipe {recipe.name}: no parallel data given for {lang!r}")
                    wanted = pair_counts.get(lang)
                    if part.size is not None:
                        wanted = min(part.size, wanted) if wanted is not None else part.size
                    for n, pair in enumerate(_read_pairs(pairs[lang], wanted)):
                        forward = part.direction == "en-x"
                        src_lang, tgt_lang = ("en", lang) if forward else (lang, "en")
                        src, tgt = (pair["src"], pair["tgt"]) if forward else (pair["tgt"], pair["src"])
                        template = pick_template(templates, n, instruction_choice, rng)
                        rows.append(
                            {
                                "id": f"{part.direction}-{lang}:{pair.get('id', n)}",
                                "instruction": translation_instruction(
                                    lang_names[src_lang], lang_names[tgt_lang], template
                                ),
                                "input": src,
                                "output": tgt,
                                "kind": "translation",
                                "lang": lang,
                            }
                        )
                        parts_count[f"translation:{src_lang}-{tgt_lang}"] += 1
            elif part.kind == "monolingual":
                for lang in expand(part.lang):
                    path = (monolingual or {}).get(lang)
                    if path is None:
                        raise UserError(f"recipe {recipe.name}: no monolingual text given for {lang!r}")
                    with open(path, encoding="utf-8") as handle:
                        texts = (json.loads(line)["text"] for line in handle if line.strip())
                        for i, t in enumerate(itertools.islice(texts, part.size)):
                            rows.append({"id": f"mono-{lang}:{i}", "text": t, "kind": "monolingual", "lang": lang})
                            parts_count[f"monolingual:{lang}"] += 1

        if not len(rows):
            raise UserError(f"recipe {recipe.name}: the mixture is empty")
        tokens = _count_tokens(rows.rows(), tokenizer_dir) if tokenizer_dir else None
        rows.write_shuffled(rng, out)
        record = {
            "recipe": recipe.name,
            "languages": langs,
            "rows": len(rows),
            "parts": dict(sorted(parts_count.items())),
            "tokens": tokens,
            "templates": templates,
            "instruction_choice": instruction_choice,
            "provenance": provenance(seed=seed, **(meta or {})),
        }
        write_json(manifest, record)
        return record


def _count_tokens(rows: Iterable[dict], tokenizer_dir: str, batch: int = 4096) -> dict:
    """Tokens per part, counted ``batch`` rows at a time (all ids at once took ~36 bytes a token)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    counts: Counter = Counter()
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, batch)):
        texts = [r.get("text") or "\n".join((r["instruction"], r["input"], r["output"])) for r in chunk]
        for row, ids in zip(chunk, tokenizer(texts, add_special_tokens=False)["input_ids"]):
            counts[f"{row['kind']}:{row['lang']}"] += len(ids)
    return dict(sorted(counts.items())) | {"total": sum(counts.values())}
