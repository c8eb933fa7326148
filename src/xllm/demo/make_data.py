"""Write the demo's raw data in the real corpora formats, as a local mirror the download rules read.

Per synthetic language: a WikiMatrix-style ``TSV.gz`` (margin, English, X) with the kinds of
noise the cleaning stage must remove (low margins, duplicates, empty sides, test-set sentences);
a multi-way FLORES-style dev/devtest (one sentence per line, line-aligned across languages); an
XQuAD-style SQuAD v1.1 JSON. Once: an ``alpaca_data.json`` in English and the language specs.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from ..atomic import atomic_open, write_json
from . import english
from .pretrain import echo
from .synthetic import LanguageSpec, SyntheticLanguage, spec_to_json


def _squad(paragraphs: list[dict], lang: SyntheticLanguage | None, title: str) -> dict:
    tr = lang.translate if lang else (lambda text: text)
    out_paragraphs = []
    for p_index, paragraph in enumerate(paragraphs):
        context = tr(paragraph["context"])
        qas = []
        for q_index, qa in enumerate(paragraph["qas"]):
            answer = tr(qa["answer"])
            start = context.find(answer)
            if start < 0 or context.find(answer, start + 1) >= 0:
                continue  # answer must be one unambiguous span of the context
            qas.append(
                {
                    "id": f"demo-{p_index:04d}-{q_index}",
                    "question": tr(qa["question"]),
                    "answers": [{"text": answer, "answer_start": start}],
                }
            )
        if qas:
            out_paragraphs.append({"context": context, "qas": qas})
    return {"version": "1.1", "data": [{"title": title, "paragraphs": out_paragraphs}]}


def make_demo_data(
    out_dir: str | Path,
    spec_dir: str | Path,
    languages: dict[str, dict],
    seed: int,
    pairs_per_language: int,
    n_dev: int,
    n_devtest: int,
    n_alpaca: int,
    n_qa_paragraphs: int,
    noise: float = 0.05,
    qa_prompts: str = "authors",
) -> list[Path]:
    """Generate every raw demo file; returns the paths written (each written atomically).

    ``qa_prompts``: the QA prompt set the English QA items are worded in (the evaluation's)."""
    out_dir, spec_dir = Path(out_dir), Path(spec_dir)
    rng = random.Random(seed)
    written: list[Path] = []

    # One pool of distinct English sentences, split into disjoint parts.
    dev = english.unique_sentences(rng, n_dev)
    devtest = english.unique_sentences(rng, n_devtest, exclude={s["text"] for s in dev})
    taken = {s["text"] for s in dev + devtest}
    qa_source = english.unique_sentences(rng, 3 * n_qa_paragraphs, exclude=taken)
    taken |= {s["text"] for s in qa_source}
    alpaca_source = english.unique_sentences(rng, n_alpaca, exclude=taken)
    taken |= {s["text"] for s in alpaca_source}

    alpaca = english.instructions(rng, alpaca_source, qa_prompts)
    path = out_dir / "alpaca_data.json"
    write_json(path, alpaca)
    written.append(path)

    langs = {"en": None}
    for code, knobs in languages.items():
        spec = LanguageSpec(code=code, **knobs)
        langs[code] = SyntheticLanguage(spec)
        path = spec_dir / f"{code}.json"
        write_json(path, spec_to_json(spec))
        written.append(path)

    paragraphs = english.qa_paragraphs(rng, qa_source)
    for code, lang in langs.items():
        tr = lang.translate if lang else (lambda text: text)
        for split, items in (("dev", dev), ("devtest", devtest)):
            path = out_dir / f"flores101.{split}.{code}.txt"
            with atomic_open(path) as handle:
                handle.writelines(tr(s["text"]) + "\n" for s in items)
            written.append(path)
        path = out_dir / f"xquad.{code}.json"
        write_json(path, _squad(paragraphs, lang, "demo"))
        written.append(path)

    for code, lang in langs.items():
        if lang is None:
            continue
        lang_rng = random.Random(f"{seed}:{code}")
        corpus = english.unique_sentences(lang_rng, pairs_per_language, exclude=taken)
        rows = [(round(lang_rng.uniform(1.04, 1.3), 4), s["text"], lang.translate(s["text"])) for s in corpus]
        n_noise = max(1, int(noise * len(rows)))
        for _ in range(n_noise):  # the noise real corpora have, for the cleaning stage to remove
            kind = lang_rng.randrange(4)
            src = lang_rng.choice(corpus)["text"]
            if kind == 0:
                rows.append((round(lang_rng.uniform(0.9, 1.03), 4), src, lang.translate(src)))
            elif kind == 1:
                rows.append(lang_rng.choice(rows))
            elif kind == 2:
                rows.append((1.1, src, ""))
            else:
                test = lang_rng.choice(devtest)["text"]
                rows.append((1.2, test, lang.translate(test)))
        lang_rng.shuffle(rows)
        path = out_dir / f"WikiMatrix.en-{code}.tsv.gz"
        with atomic_open(path, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                for margin, src, tgt in rows:
                    gz.write(f"{margin}\t{src}\t{tgt}\n".encode())
        written.append(path)
    return written


def corpus_texts(paths: list[str | Path]):
    """Every sentence of the demo's training corpora: both sides of the pairs, Alpaca's fields."""
    for path in map(Path, paths):
        if path.name.endswith(".tsv.gz"):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    yield from line.rstrip("\n").split("\t")[1:]
        elif path.suffix == ".json":
            for item in json.loads(path.read_text(encoding="utf-8")):
                yield from (v for v in (item["instruction"], item["input"], item["output"]) if v)


def english_text(paths: list[str | Path], out: str | Path, per_row: int = 1) -> int:
    """The English side of the demo data as monolingual rows, to pre-train the base model on."""
    rows = []
    for path in paths:
        path = Path(path)
        if path.name.endswith(".tsv.gz"):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                rows += [line.split("\t")[1] for line in handle if line.strip()]
        elif path.name == "alpaca_data.json":
            for item in json.loads(path.read_text(encoding="utf-8")):
                rows.append("\n".join(v for v in (item["instruction"], item["input"], item["output"]) if v))
    unique = list(dict.fromkeys(rows))
    random.Random(0).shuffle(unique)
    # Each sentence echoed after the demo's prompt marker: a copy signal, so that pre-training
    # builds the attention to earlier text that translating later needs (see pretrain.py).
    unique = [text if "\n" in text else echo(text) for text in unique]
    # One text per row by default: copying emerged in fewer steps than with 3 or 6 per row.
    docs = ["\n".join(unique[i : i + per_row]) for i in range(0, len(unique), per_row)]
    with atomic_open(out) as handle:
        for text in docs:
            handle.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    return len(docs)
