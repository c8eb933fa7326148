"""Raw data at the paper's sizes, in the real source formats, for a rehearsal of the full grid.

Writes a mirror directory (``data.mirror``) holding every file of ``workflow/sources.yaml`` the
grid reads, under its name there: WikiMatrix TSV.gz (margin, sentence, sentence; Table 1's pair
counts plus the noise the cleaning removes), News Commentary Moses zips, Alpaca's 52,002 items
(alpaca-json), the FLORES-101 tarball (997 dev / 1012 devtest lines per language), XQuAD (1,190
questions per language, squad-json) and MLQA_V1.zip (the test sets' sizes); plus monolingual text
per language (``mixture.monolingual``) and the demo translation backend's language specs.

The text is word salad over a Zipfian vocabulary; language X maps each English word to a
pseudo-word in X's script (Chinese without spaces), so pairs are consistent translations. What
matters here is the sizes, formats and noise, not the language. ``scale`` shrinks every count
(corpora, Alpaca, test sets) by that fraction, for a quick first pass.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_open, write_json
from ..languages import get as get_language
from .synthetic import LanguageSpec, spec_to_json

# The paper's Table 1 (pairs per language) and the public test sets' sizes.
WIKIMATRIX = {"ar": 999_800, "el": 620_800, "hi": 231_500, "tr": 477_700, "vi": 1_073_800, "zh": 786_500}
NEWS_COMMENTARY = {"ar": 97_400, "hi": 2_800, "zh": 126_000}
N_ALPACA = 52_002
FLORES = {"dev": 997, "devtest": 1012}
XQUAD_QUESTIONS = 1190
XQUAD_PARAGRAPHS = 240
# MLQA v1 test: questions per language (context-X-question-X, and the en<->X parallel subsets).
MLQA_TEST = {"en": 11_590, "ar": 5_335, "hi": 4_918, "vi": 5_495, "zh": 5_137}
VOCAB = 20_000
# Letters of each language's script the pseudo-words are drawn from.
ALPHABETS = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "ar": "".join(map(chr, range(0x0627, 0x063B))) + "".join(map(chr, range(0x0641, 0x064B))),
    "el": "αβγδεζηθικλμνξοπρστυφχψω",
    "hi": "".join(map(chr, range(0x0915, 0x0939))) + "ािीुूेैोौ",
    "tr": "abcçdefgğhıijklmnoöprsştuüvyz",
    "vi": "abcdđeghiklmnopqrstuvxyàáảãạâầấăằắêềếôồốơờớưừứ",
    "zh": "".join(map(chr, range(0x4E00, 0x4E00 + 3000))),
}
SPACED = {"zh": False}


def _vocab(lang: str, rng: np.random.Generator) -> np.ndarray:
    letters = ALPHABETS.get(lang, ALPHABETS["en"])
    lo, hi = (1, 3) if lang == "zh" else (2, 9)
    words = set()
    while len(words) < VOCAB:
        n = int(rng.integers(lo, hi + 1))
        words.add("".join(letters[i] for i in rng.integers(0, len(letters), n)))
    return np.array(sorted(words), dtype=object)


class Words:
    """Sentences as rows of word ids over a Zipfian vocabulary, rendered per language."""

    def __init__(self, langs: list[str], seed: int):
        rng = np.random.default_rng(seed)
        self.vocab = {code: _vocab(code, rng) for code in ["en", *langs]}
        p = 1.0 / np.arange(1, VOCAB + 1) ** 0.9
        self.cdf = np.cumsum(p / p.sum())

    def ids(self, rng: np.random.Generator, n: int, lo: int, hi: int) -> list[np.ndarray]:
        lengths = rng.integers(lo, hi + 1, n)
        flat = np.minimum(np.searchsorted(self.cdf, rng.random(int(lengths.sum()))), VOCAB - 1)
        return np.split(flat, np.cumsum(lengths)[:-1])

    def text(self, lang: str, ids: np.ndarray, end: str = ".") -> str:
        sep = " " if SPACED.get(lang, True) else ""
        return sep.join(self.vocab[lang][ids]) + end


def _chunks(total: int, size: int = 100_000):
    done = 0
    while done < total:
        yield min(size, total - done)
        done += size


def write_wikimatrix(path: Path, words: Words, lang: str, n: int, rng, flores_en: list, noise: float = 0.03) -> int:
    """n pairs with margin >= 1.04 plus noise: low margins, duplicates, empty sides, test sentences."""
    en_first = "en" < lang  # WikiMatrix orders the pair alphabetically
    rows = 0
    with atomic_open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=1) as gz:
        for size in _chunks(n):
            margins = np.round(rng.uniform(1.04, 1.3, size), 4)
            out = io.StringIO()
            for margin, ids in zip(margins, words.ids(rng, size, 6, 30), strict=True):
                en, x = words.text("en", ids), words.text(lang, ids)
                a, b = (en, x) if en_first else (x, en)
                out.write(f"{margin}\t{a}\t{b}\n")
                rows += 1
            for k in range(int(noise * size)):
                kind = k % 4
                ids = words.ids(rng, 1, 6, 30)[0]
                en, x = words.text("en", ids), words.text(lang, ids)
                margin = 1.1
                if kind == 0:
                    margin = round(float(rng.uniform(0.9, 1.03)), 4)
                elif kind == 1:
                    x = ""
                elif kind == 2:
                    en = flores_en[k % len(flores_en)]
                a, b = (en, x) if en_first else (x, en)
                out.write(f"{margin}\t{a}\t{b}\n")
                if kind == 3:  # a duplicate
                    out.write(f"{margin}\t{a}\t{b}\n")
                rows += 1 + (kind == 3)
            gz.write(out.getvalue().encode())
    return rows


def write_moses_zip(path: Path, words: Words, lang: str, n: int, rng) -> None:
    """OPUS Moses zip: two line-aligned members (one write handle at a time, the same ids)."""
    pair = "-".join(sorted(["en", lang]))
    seed = int(rng.integers(1 << 30))
    with atomic_open(path, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for code in ("en", lang):
            side_rng = np.random.default_rng(seed)
            with zf.open(f"News-Commentary.{pair}.{code}", "w", force_zip64=True) as handle:
                for size in _chunks(n):
                    handle.write("".join(words.text(code, i) + "\n" for i in words.ids(side_rng, size, 8, 40)).encode())


def write_alpaca(path: Path, words: Words, n: int, rng) -> None:
    items = []
    instr, inputs, outputs = words.ids(rng, n, 4, 16), words.ids(rng, n, 4, 40), words.ids(rng, n, 5, 120)
    has_input = rng.random(n) < 0.4
    for i in range(n):
        items.append(
            {
                "instruction": words.text("en", instr[i], "?" if i % 3 == 0 else "."),
                "input": words.text("en", inputs[i]) if has_input[i] else "",
                "output": words.text("en", outputs[i]),
            }
        )
    with atomic_open(path) as handle:
        json.dump(items, handle, indent=4, ensure_ascii=False)


def write_flores(path: Path, words: Words, langs: list[str], sizes: dict, rng) -> list[str]:
    """The multi-way tarball; returns the English devtest (to plant as contamination)."""
    english = []
    with atomic_open(path, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for split, n in sizes.items():
            ids = words.ids(rng, n, 10, 35)
            for code in ["en", *langs]:
                data = "".join(words.text(code, i) + "\n" for i in ids).encode()
                info = tarfile.TarInfo(f"flores101_dataset/{split}/{get_language(code).flores}.{split}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                if code == "en" and split == "devtest":
                    english = data.decode().splitlines()
    return english


def squad_docs(words: Words, langs: list[str], n_questions: int, n_paragraphs: int, rng, prefix: str) -> dict:
    """SQuAD v1.1 documents per language, the same questions in each (answers are context spans)."""
    n_paragraphs = max(1, min(n_paragraphs, n_questions))
    per = np.full(n_paragraphs, n_questions // n_paragraphs)
    per[: n_questions % n_paragraphs] += 1
    docs = {code: {"version": "1.1", "data": []} for code in ["en", *langs]}
    for p, n_q in enumerate(per):
        context = words.ids(rng, 1, 80, 160)[0]
        qas = []
        for q in range(int(n_q)):
            start = int(rng.integers(0, len(context) - 3))
            span = context[start : start + int(rng.integers(1, 4))]
            qas.append((f"{prefix}-{p:05d}-{q}", words.ids(rng, 1, 5, 14)[0], start, span))
        for code, doc in docs.items():
            sep = " " if SPACED.get(code, True) else ""
            context_words = list(words.vocab[code][context])
            text = sep.join(context_words) + "."
            items = []
            for qid, question, start, span in qas:
                answer = sep.join(words.vocab[code][span])
                offset = len(sep.join(context_words[:start])) + (len(sep) if start else 0)
                assert text[offset : offset + len(answer)] == answer
                items.append(
                    {
                        "id": qid,
                        "question": words.text(code, question, "?"),
                        "answers": [{"text": answer, "answer_start": offset}],
                    }
                )
            doc["data"].append({"title": f"{prefix}-{p // 5}", "paragraphs": [{"context": text, "qas": items}]})
    return docs


def write_mlqa(path: Path, words: Words, langs: list[str], fraction: float, rng) -> None:
    """MLQA_V1/test/test-context-C-question-Q.json for en-en, X-X, en-X and X-en."""
    with atomic_open(path, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for code in [c for c in langs if c in MLQA_TEST]:
            n = max(1, int(MLQA_TEST[code] * fraction))
            docs = squad_docs(words, [code], n, max(1, n // 2), rng, f"mlqa-{code}")
            for c, q in ((code, code), ("en", code), (code, "en")):
                doc = {"version": "1.1", "data": []}
                for art_c, art_q in zip(docs[c]["data"], docs[q]["data"], strict=True):
                    para_c, para_q = art_c["paragraphs"][0], art_q["paragraphs"][0]
                    qas = [
                        qa_c | {"question": qa_q["question"]}
                        for qa_c, qa_q in zip(para_c["qas"], para_q["qas"], strict=True)
                    ]
                    doc["data"].append(
                        {"title": art_c["title"], "paragraphs": [{"context": para_c["context"], "qas": qas}]}
                    )
                zf.writestr(f"MLQA_V1/test/test-context-{c}-question-{q}.json", json.dumps(doc, ensure_ascii=False))
        n = max(1, int(MLQA_TEST["en"] * fraction))
        doc = squad_docs(words, [], n, max(1, n // 2), rng, "mlqa-en")["en"]
        zf.writestr("MLQA_V1/test/test-context-en-question-en.json", json.dumps(doc, ensure_ascii=False))


def write_monolingual(path: Path, words: Words, lang: str, n: int, rng) -> None:
    with atomic_open(path) as handle:
        for size in _chunks(n):
            handle.write(
                "".join(
                    " ".join(words.text(lang, i) for i in (a, b)) + "\n"
                    for a, b in zip(*[iter(words.ids(rng, 2 * size, 8, 30))] * 2, strict=True)
                )
            )


def unpinned_sources(sources: str | Path, out: str | Path) -> None:
    """The sources file with every checksum and size unpinned (the generated files are not the
    real ones): checksums are recorded on first use in the config's lock file instead."""
    import yaml

    doc = yaml.safe_load(Path(sources).read_text(encoding="utf-8"))
    for entry in doc["files"].values():
        entry["sha256"] = None
        entry["size"] = None
    with atomic_open(out) as handle:
        handle.write("# Generated by xllm.demo.rehearsal from " + str(sources) + ": checksums unpinned.\n")
        yaml.safe_dump(doc, handle, sort_keys=False, allow_unicode=True)


def make_rehearsal_data(
    mirror: str | Path,
    spec_dir: str | Path,
    mono_dir: str | Path,
    langs: list[str],
    scale: float = 1.0,
    seed: int = 0,
    log=print,
) -> dict:
    """Write every raw file at ``scale`` times the paper's sizes; returns the counts written."""
    mirror, spec_dir, mono_dir = Path(mirror), Path(spec_dir), Path(mono_dir)
    for d in (mirror, spec_dir, mono_dir):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    words = Words(langs, seed)

    def n_of(count: int) -> int:
        return max(1, round(count * scale))

    counts: dict = {"scale": scale}
    flores_en = write_flores(
        mirror / "flores101_dataset.tar.gz", words, langs, {k: n_of(v) for k, v in FLORES.items()}, rng
    )
    log(f"flores: {FLORES} x {scale}")
    write_alpaca(mirror / "alpaca_data.json", words, n_of(N_ALPACA), rng)
    counts["alpaca"] = n_of(N_ALPACA)
    log(f"alpaca: {counts['alpaca']} items")
    xquad = squad_docs(words, langs, n_of(XQUAD_QUESTIONS), n_of(XQUAD_PARAGRAPHS), rng, "xquad")
    for code, doc in xquad.items():
        write_json(mirror / f"xquad.{code}.json", doc)
    counts["xquad"] = n_of(XQUAD_QUESTIONS)
    write_mlqa(mirror / "MLQA_V1.zip", words, langs, scale, rng)
    log("xquad, mlqa written")
    counts["wikimatrix"], counts["news_commentary"], counts["monolingual"] = {}, {}, {}
    for code in langs:
        pair = "-".join(sorted(["en", code]))
        n = n_of(WIKIMATRIX[code])
        rows = write_wikimatrix(mirror / f"WikiMatrix.{pair}.tsv.gz", words, code, n, rng, flores_en)
        counts["wikimatrix"][code] = {"pairs": n, "rows": rows}
        if code in NEWS_COMMENTARY:
            m = n_of(NEWS_COMMENTARY[code])
            write_moses_zip(mirror / f"News-Commentary.v16.{pair}.txt.zip", words, code, m, rng)
            counts["news_commentary"][code] = m
        n_mono = n_of(WIKIMATRIX[code] + NEWS_COMMENTARY.get(code, 0))
        write_monolingual(mono_dir / f"{code}.txt", words, code, n_mono, rng)
        counts["monolingual"][code] = n_mono
        spec = LanguageSpec(code=code, name=get_language(code).name, seed=int(rng.integers(1 << 30)))
        write_json(spec_dir / f"{code}.json", spec_to_json(spec))
        log(
            f"{code}: {n} wikimatrix pairs ({rows} rows), "
            f"{counts['news_commentary'].get(code, 0)} news, {n_mono} monolingual"
        )
    return counts


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mirror", required=True)
    p.add_argument("--spec-dir", required=True)
    p.add_argument("--mono-dir", required=True)
    p.add_argument("--langs", nargs="+", default=["ar", "el", "hi", "tr", "vi", "zh"])
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's sizes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sources", default="workflow/sources.yaml", help="the real sources file")
    p.add_argument("--sources-out", help="write the sources file with checksums unpinned here")
    args = p.parse_args(argv)
    if args.sources_out:
        unpinned_sources(args.sources, args.sources_out)
    counts = make_rehearsal_data(args.mirror, args.spec_dir, args.mono_dir, args.langs, args.scale, args.seed)
    write_json(Path(args.mirror) / "counts.json", counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
