"""Cut a field into the units an MT model translates well (sentences) and glue them back exactly.

A field becomes a list of parts ``(translate?, text)``; joining the texts gives the field back.
Verbatim parts are fenced code blocks, lines that look like code, line breaks and the whitespace
around lines and sentences, so the layout survives translation: MT models drop line breaks and
degrade on long inputs, and code must not be translated at all.
"""

from __future__ import annotations

import re

from .protect import has_words

FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_LINE = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)
# A sentence ends at . ! ? (and CJK ones) followed by space; not after an abbreviation or a
# list number such as "1." or "a.", nor before a lower-case letter.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"')\]]*\s+(?=\S)")
ABBREVIATIONS = {"e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "no.", "fig.", "approx."}
_CODE_START = re.compile(
    r"^(def |class |import |from \S+ import |return |print\(|for \(|if \(|while \(|#include|"
    r"public |private |function |var |let |const |SELECT |<\w+[^>]*>|\$ |>>> )"
)
_CODE_CHARS = set("{}();=<>[]_\\|&$#")


def looks_like_code(line: str) -> bool:
    """A line of code pasted without fences (common in Alpaca outputs)."""
    stripped = line.strip()
    if not stripped:
        return False
    if _CODE_START.match(stripped) or stripped.endswith((";", "{", "}")):
        return True
    return sum(ch in _CODE_CHARS for ch in stripped) / len(stripped) > 0.12


def split_sentences(text: str) -> list[str]:
    """Sentences of one line, each keeping the whitespace that follows it (so they join back)."""
    out, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].split()
        last = before[-1].lower() if before else ""
        if last in ABBREVIATIONS or re.fullmatch(r"\(?(\d{1,3}|[a-z])[.)]", last) or text[match.end()].islower():
            continue  # "Mr. Smith", "1. Do", "5 p.m. to": not a sentence end
        out.append(text[start : match.end()])
        start = match.end()
    out.append(text[start:])
    return [s for s in out if s]


def split_field(text: str, split_chars: int = 200) -> list[tuple[bool, str]]:
    """Parts of a field; lines longer than ``split_chars`` are cut into sentences."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    for fence in FENCE.finditer(text):
        parts += _split_prose(text[pos : fence.start()], split_chars)
        parts.append((False, fence.group(0)))
        pos = fence.end()
    parts += _split_prose(text[pos:], split_chars)
    return _merge_verbatim(parts)


def _split_prose(text: str, split_chars: int) -> list[tuple[bool, str]]:
    parts: list[tuple[bool, str]] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            parts.append((False, "\n"))
        lead, core, trail = _LINE.match(line).groups()
        parts.append((False, lead))
        if not has_words(core) or looks_like_code(core):
            parts.append((False, core))
        elif len(core) <= split_chars:
            parts.append((True, core))
        else:
            for sentence in split_sentences(core):
                body = sentence.rstrip()
                parts.append((True, body) if has_words(body) else (False, body))
                parts.append((False, sentence[len(body) :]))
        parts.append((False, trail))
    return parts


def _merge_verbatim(parts: list[tuple[bool, str]]) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    for flag, piece in parts:
        if not piece:
            continue
        if out and not flag and not out[-1][0]:
            out[-1] = (False, out[-1][1] + piece)
        else:
            out.append((flag, piece))
    return out


def join_parts(parts: list[tuple[bool, str]], translations: dict[str, str]) -> str:
    return "".join(translations[piece] if flag else piece for flag, piece in parts)
