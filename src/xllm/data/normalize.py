"""Text normalization for corpora, vectorized over Arrow arrays: NFC, control characters, outer spaces.

Arrow's own NFC kernel costs ~5 us per non-ASCII sentence, half the budget of a pair, though
almost every sentence is already NFC. So a regular expression (RE2, in Arrow) flags the few
sentences NFC could change or that hold control characters, and only those go through Python's
``unicodedata``. A sentence can change under NFC only if it has a character whose NFC differs
from itself, a character that composes with its predecessor (the second of a canonical pair,
Hangul vowels and trailing consonants), or two adjacent combining marks (reordering).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_CTRL_PY = re.compile(r" *[\x00-\x1f\x7f-\x9f\ufeff]+ *")
_CTRL_CLASS = r"\x00-\x1f\x7f-\x9f\x{feff}"


def normalize(text: str) -> str:
    """NFC; each run of control characters (tabs, newlines too) becomes one space; strip."""
    return _CTRL_PY.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _class(codepoints) -> str:
    ranges: list[list[int]] = []
    for cp in sorted(codepoints):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)


@functools.lru_cache(maxsize=1)
def suspect_pattern() -> str:
    """RE2 pattern matching every sentence that ``normalize`` could change (and a few more)."""
    changes, combining = set(), set()
    for cp in range(0x30000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        if unicodedata.combining(ch):
            combining.add(cp)
        if unicodedata.normalize("NFC", ch) != ch:
            changes.add(cp)
        decomposition = unicodedata.decomposition(ch)
        if decomposition and not decomposition.startswith("<"):
            changes.update(int(part, 16) for part in decomposition.split()[1:])
    changes.update(range(0x1161, 0x1176))  # Hangul vowels compose with a leading consonant
    changes.update(range(0x11A8, 0x11C3))  # Hangul trailing consonants compose with an LV syllable
    marks = _class(combining)
    return f"[{_CTRL_CLASS}{_class(changes)}]|[{marks}][{marks}]"


def normalize_array(arr):
    """``normalize`` over an Arrow string array (no nulls); Python only for the flagged rows.

    Corpora and the test sets they are checked against both go through this function, so the
    contamination filter compares like with like.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    flagged = pc.match_substring_regex(arr, suspect_pattern())
    if pc.any(flagged).as_py():
        rows = np.flatnonzero(flagged.to_numpy(zero_copy_only=False))
        fixed = pa.array([normalize(s) for s in arr.take(rows).to_pylist()], pa.string())
        arr = pc.replace_with_mask(arr, flagged, fixed)
    return pc.utf8_trim_whitespace(arr)
