"""Merge translated shards in order and flag suspicious translations (counted per language).

Flags, per field whose English is non-empty: ``empty`` (no translation), ``still_english`` (most
output words copied from the English source: an untranslated or copy-through output; the
threshold is configurable because a synthetic or closely related language shares words with
English legitimately; for a language written in another script, also mostly Latin letters once
code, URLs and such are set aside), ``length_ratio`` (characters out/in far from what the language needs;
Chinese-like scripts need about a third of English's characters).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path

from ..atomic import read_json
from ..errors import UserError
from .alpaca import FIELDS
from .protect import PROTECTED

_WORD = re.compile(r"[^\W\d_]+")
# Characters of target text per character of English, by language (1.0 where not listed).
CHAR_RATIO = {"zh": 0.3, "ja": 0.4, "ko": 0.5}
# Languages not written in Latin script: Latin letters there mean English left in.
NON_LATIN = {"ar", "el", "hi", "zh", "ru", "ja", "ko", "fa", "he", "th", "uk", "bg", "bn", "ta", "ur"}
_LATIN = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[^\W\d_]")


def latin_share(text: str) -> tuple[float, int]:
    """Share of the letters that are ASCII Latin (protected spans such as URLs left out), and how many."""
    text = PROTECTED.sub(" ", text)
    letters = len(_LETTER.findall(text))
    return (len(_LATIN.findall(text)) / letters if letters else 0.0), letters


def merge_shards(paths: list[str | Path]) -> list[dict]:
    """Concatenate shards in the given order; ids must be unique across all of them."""
    merged, seen = [], {}
    for path in paths:
        path = Path(path)
        for item in read_json(path, "translated Alpaca items", list):
            key = str(item.get("id"))
            if key in seen:
                raise UserError(f"{path}: id {key} is also in {seen[key]}")
            seen[key] = path
            merged.append(item)
    return merged


def check_against_source(merged: list[dict], source: list[dict], source_path: str) -> None:
    ids, want = [str(i["id"]) for i in merged], [str(i["id"]) for i in source]
    if ids != want:
        missing = [i for i in want if i not in set(ids)]
        extra = [i for i in ids if i not in set(want)]
        detail = f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]})"
        raise UserError(f"{source_path}: merged shards do not match its ids in order: {detail}")


def copy_rate(source: str, output: str) -> tuple[float, int]:
    """Share of the output's words that also occur in the source, and the output's word count."""
    src = {w.lower() for w in _WORD.findall(source)}
    words = [w.lower() for w in _WORD.findall(output)]
    if not words:
        return 0.0, 0
    return sum(w in src for w in words) / len(words), len(words)


def field_flags(
    src: str, out: str, lang: str, english_threshold: float, max_ratio: float, min_words: int = 4, min_chars: int = 20
) -> list[str]:
    if not src.strip():
        return []
    if not out.strip():
        return ["empty"]
    flags = []
    rate, n_words = copy_rate(src, out)
    latin, letters = latin_share(out) if lang in NON_LATIN else (0.0, 0)
    if (n_words >= min_words and rate >= english_threshold) or (letters >= min_chars and latin >= 0.5):
        flags.append("still_english")
    if len(src) >= min_chars:
        ratio = len(out) / len(src) / CHAR_RATIO.get(lang, 1.0)
        if not 1 / max_ratio <= ratio <= max_ratio:
            flags.append("length_ratio")
    return flags


def quality_check(
    merged: list[dict],
    source: list[dict] | None,
    lang: str,
    english_threshold: float = 0.8,
    max_ratio: float = 3.0,
    examples: int = 5,
) -> dict:
    """Counts per flag (fields and items) with a few example ids per flag."""
    by_id = {str(i["id"]): i for i in source} if source is not None else {}
    counts, items_flagged, example_ids = Counter(), 0, {}
    fields_checked, rates = 0, []
    for item in merged:
        src_item = by_id.get(str(item["id"]))
        item_flagged = False
        for field in FIELDS:
            out = item.get(field, "")
            if src_item is None:
                # Without the English we can only catch empty fields of a non-empty item.
                flags = ["empty"] if field != "input" and not out.strip() else []
            else:
                flags = field_flags(src_item.get(field, ""), out, lang, english_threshold, max_ratio)
                if src_item.get(field, "").strip():
                    fields_checked += 1
                    rates.append(copy_rate(src_item[field], out)[0])
            for flag in flags:
                counts[flag] += 1
                example_ids.setdefault(flag, [])
                if len(example_ids[flag]) < examples:
                    example_ids[flag].append(f"{item['id']}:{field}")
            item_flagged |= bool(flags)
        items_flagged += item_flagged
    return {
        "lang": lang,
        "items": len(merged),
        "fields_checked": fields_checked,
        "flags": {flag: counts.get(flag, 0) for flag in ("empty", "still_english", "length_ratio")},
        "items_flagged": items_flagged,
        # How much a typical output shares with its English: near 0 for a real language.
        "median_copy_rate": round(statistics.median(rates), 3) if rates else None,
        "examples": example_ids,
        "thresholds": {
            "english_copy_rate": english_threshold,
            "max_length_ratio": max_ratio,
            "char_ratio": CHAR_RATIO.get(lang, 1.0),
        },
    }
