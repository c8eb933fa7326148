"""``results/tables/corpus_stats.md``: the paper's Table 1 (pairs per corpus and language) from the
cleaning manifests, with the paper's numbers beside ours where the paper has the language."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..atomic import atomic_open, read_json
from ..errors import UserError

# ncwm: the authors' released pairs (News Commentary + WikiMatrix in one file per language), whose
# count the paper's Table 1 totals; "ncwm-released" is that corpus before our filters.
PAPER_KEYS = {
    "wikimatrix": "wikimatrix",
    "news-commentary": "news_commentary",
    "ncwm": "total",
    "ncwm-released": "total",
    "total": "total",
}
NAMES = {
    "wikimatrix": "WikiMatrix",
    "news-commentary": "News Commentary",
    "ncwm-released": "Authors' NC + WikiMatrix, as released",
    "ncwm": "Authors' NC + WikiMatrix, after our filters",
    "total": "Total",
}


def _k(n: int) -> str:
    """The paper's style (999.8k); small corpora (the demo) exactly."""
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


def corpus_stats(
    manifests: list[str | Path],
    out: str | Path,
    paper_tables: str | Path | None = None,
    lang_names: dict[str, str] | None = None,
) -> str:
    """Write the Markdown table; a cell reads 'ours (paper)' where the paper has a number.

    Columns are headed by ``lang_names`` (e.g. Arabic), else the capitalized code."""
    counts: dict[str, dict[str, int]] = {}
    langs = []
    for path in manifests:
        try:
            doc = read_json(path, "a corpus manifest")
            lang, corpora = doc["lang"], doc["corpora"]
            per = {name: int(c["kept"]) for name, c in corpora.items()}
            released = {f"{name}-released": int(c["read"]) for name, c in corpora.items() if name == "ncwm"}
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{path}: not a corpus manifest ({err})") from None
        if lang in counts:
            raise UserError(f"{path}: a second manifest for {lang!r}")
        langs.append(lang)
        counts[lang] = {**released, **per, "total": sum(per.values())}
    paper = {}
    if paper_tables:
        paper = (yaml.safe_load(Path(paper_tables).read_text(encoding="utf-8")) or {}).get("table1_parallel_pairs", {})
    rows = [c for c in NAMES if c != "total" and any(c in counts[lang] for lang in langs)]
    rows += sorted({c for lang in langs for c in counts[lang]} - set(NAMES))
    rows.append("total")

    body, cited = [], False
    for row in rows:
        cells = []
        for lang in langs:
            ours = counts[lang].get(row)
            theirs = paper.get(PAPER_KEYS.get(row, row), {}).get(lang)
            cell = "-" if ours is None else _k(ours)
            if theirs is not None:
                cell += f" ({theirs}k)"
                cited = True
            cells.append(cell)
        body.append(f"| {NAMES.get(row, row)} | " + " | ".join(cells) + " |")
    lines = [
        "# Parallel corpora after cleaning (the paper's Table 1)",
        "",
        "Pairs per language after every filter (normalization, empty, WikiMatrix margin, length, "
        "length ratio, duplicates, FLORES contamination)." + (" In parentheses: the paper's numbers." if cited else ""),
        "",
        "| Parallel corpora | " + " | ".join((lang_names or {}).get(lang, lang.capitalize()) for lang in langs) + " |",
        "|---|" + "---:|" * len(langs),
        *body,
    ]
    text = "\n".join(lines) + "\n"
    with atomic_open(out) as handle:
        handle.write(text)
    return text


def cleaned_caps(max_pairs: dict[str, int] | None, manifests: list[str | Path]) -> dict[str, int]:
    """Each language's allocation cap: min(configured ``max_pairs``, pairs left after cleaning).

    The configured maxima are the paper's Table 1; a corpus cleaned here can hold fewer pairs (an
    older release, other filters), and an allocation above what exists cannot be built. Languages
    come from the preparation manifests (``xllm prepare-corpus``); one without a configured
    maximum is capped by its corpus alone. A configured language without a manifest is an error."""
    found: dict[str, int] = {}
    for path in manifests:
        doc = read_json(path, "a corpus manifest")
        try:
            lang, pairs = doc["lang"], int(doc["pairs"])
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{path}: not a corpus manifest ({err})") from None
        if lang in found:
            raise UserError(f"{path}: a second manifest for {lang!r}")
        found[lang] = pairs
    max_pairs = max_pairs or {}
    missing = sorted(set(max_pairs) - set(found))
    if missing:
        raise UserError(f"max_pairs: no corpus manifest for {', '.join(missing)}")
    return {lang: min(int(max_pairs[lang]), pairs) if lang in max_pairs else pairs for lang, pairs in found.items()}
