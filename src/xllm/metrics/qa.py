"""QA answer scoring: MLQA's official normalization per language, EM, token F1 and "contains".

The normalization is ``mlqa_evaluation_v1.py``'s (lower-case, drop Unicode punctuation, drop
articles, tokenize), kept byte-for-byte compatible so our EM/F1 match the published numbers:
whitespace tokens for most languages, mixed segmentation (one token per CJK character) for zh
and any language registered as not whitespace-tokenized, and the official Arabic rule that
removes every "ال". Languages MLQA does not cover (el, tr, the demo's) get whitespace tokens and
no article rule. "contains" is the lenient accuracy instruction-tuned models need: the normalized
gold answer occurs, on token boundaries, in the normalized prediction. One addition outside
MLQA's languages: Turkish lower-cases İ/I as Turkish does.

"match" is what the paper's Table 6 calls exact match (the authors' eval/xquad.match.py): the
first gold answer, stripped and lower-cased, is a substring of the lower-cased prediction; no
normalization, no tokenization, the other gold answers unused.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from functools import cache

PUNCT = frozenset(
    {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")} | set(string.punctuation)
)
_CJK = re.compile(r"[\u4e00-\u9fa5]")

# mlqa_evaluation_v1.py's remove_articles, one pattern per language it knows.
ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "ar": re.compile(r"\sال^|ال"),  # sic: the official script removes every "ال"
}
MIXED_SEGMENTATION = {"zh"}
# Turkish (and Azerbaijani) lower-case dotted and dotless I differently; plain str.lower() turns
# "İ" into "i" + a combining dot, so "İstanbul" would not match "istanbul".
_DOTTED_I = {"tr": str.maketrans({"İ": "i", "I": "ı"}), "az": str.maketrans({"İ": "i", "I": "ı"})}


def mixed_segmentation(text: str) -> list[str]:
    """Every CJK character and punctuation mark is a token; other runs split on whitespace."""
    out: list[str] = []
    run = ""
    for char in text:
        if _CJK.search(char) or char in PUNCT:
            if run:
                out.extend(run.split())
                run = ""
            out.append(char)
        else:
            run += char
    if run:
        out.extend(run.split())
    return out


def _segmented(lang: str) -> bool:
    if lang in MIXED_SEGMENTATION:
        return True
    from ..languages import BUILTIN

    known = BUILTIN.get(lang)
    return bool(known is not None and not known.whitespace_tokenized)


@cache
def _mode(lang: str, mixed: bool | None) -> bool:
    return _segmented(lang) if mixed is None else mixed


def normalize_answer(text: str, lang: str, mixed: bool | None = None) -> str:
    """MLQA's normalize_answer; ``mixed`` forces mixed segmentation (custom languages)."""
    if lang in _DOTTED_I:
        text = text.translate(_DOTTED_I[lang])
    text = "".join(ch for ch in text.lower() if ch not in PUNCT)
    article = ARTICLES.get(lang)
    if article is not None:
        text = article.sub(" ", text)
    tokens = mixed_segmentation(text) if _mode(lang, mixed) else text.split()
    return " ".join(t for t in tokens if t.strip())


def exact_match(prediction: str, gold: str, lang: str, mixed: bool | None = None) -> float:
    return float(normalize_answer(prediction, lang, mixed) == normalize_answer(gold, lang, mixed))


def f1(prediction: str, gold: str, lang: str, mixed: bool | None = None) -> float:
    pred = normalize_answer(prediction, lang, mixed).split()
    ref = normalize_answer(gold, lang, mixed).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains(prediction: str, gold: str, lang: str, mixed: bool | None = None) -> float:
    """1.0 when the normalized gold answer is a run of whole tokens of the normalized prediction."""
    ref = normalize_answer(gold, lang, mixed)
    pred = normalize_answer(prediction, lang, mixed)
    if not ref:
        return float(not pred)
    return float(f" {ref} " in f" {pred} ")


def match(prediction: str, golds: list[str]) -> float:
    """The authors' match: 1.0 if ``golds[0].strip().lower()`` occurs in ``prediction.lower()``
    (0.0 without a gold answer, where their script would fail)."""
    if not golds:
        return 0.0
    return float(golds[0].strip().lower() in prediction.lower())


QA_FUNCTIONS = {"em": exact_match, "f1": f1, "contains": contains}


def best_over_golds(fn, prediction: str, golds: list[str], lang: str, mixed: bool | None = None) -> float:
    """The official max over the gold answers (0 when there are none)."""
    return max((fn(prediction, g, lang, mixed) for g in golds), default=0.0)


def qa_signature(metric: str, lang: str, mixed: bool | None = None) -> str:
    if metric == "match":
        return "match|norm:strip-lower|gold:first|substring|scale:100"
    seg = "mixed" if _mode(lang, mixed) else "whitespace"
    art = lang if lang in ARTICLES else "none"
    return f"{metric}|norm:mlqa-v1|lang:{lang}|tok:{seg}|articles:{art}|scale:100"
