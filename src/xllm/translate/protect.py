"""Keep what must not be translated (code, URLs, numbers, placeholders) out of the model's hands.

Spans are swapped for numbered markers ``[0]``, ``[1]``, ... before translation and put back
after. Markers are brackets around digits because MT models copy those reliably (and the demo
language keeps digits); restoration tolerates spaces inside a marker and non-ASCII digits, which
some models emit. When the markers do not come back exactly once each, the caller translates the
text between the spans on its own instead (``pieces``), which can never lose a span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Order matters: earlier alternatives win where spans overlap.
PROTECTED = re.compile(
    r"`[^`\n]+`"  # inline code
    r"|(?:https?|ftp)://[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]"  # URLs (no trailing punctuation)
    r"|www\.[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|</?[A-Za-z_][\w-]*>"  # placeholders such as <noinput>, HTML tags
    r"|\{[^{}\s]*\}"  # format fields such as {name}
    r"|\[\s*\d+\s*\]"  # text that looks like a marker must itself be protected
    r"|(?<!\w)\d+(?:[.,:/-]\d+)*%?(?![^\W\d_])"  # numbers, dates, times (not "1st", "H2O")
)
MARKER = re.compile(r"\[\s*(\d+)\s*\]")
_HAS_WORD = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Protected:
    text: str  # the source with markers in place of the spans
    spans: tuple[str, ...]  # the original spans, in order

    def restore(self, translated: str) -> str | None:
        """``translated`` with its markers replaced by the spans, or None unless each came back once."""
        found = [int(m.group(1)) for m in MARKER.finditer(translated)]
        if sorted(found) != list(range(len(self.spans))):
            return None
        return MARKER.sub(lambda m: self.spans[int(m.group(1))], translated)


def protect(text: str) -> Protected:
    spans: list[str] = []

    def swap(match: re.Match) -> str:
        spans.append(match.group(0))
        return f"[{len(spans) - 1}]"

    return Protected(PROTECTED.sub(swap, text), tuple(spans))


def pieces(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into (translate?, piece): protected spans and the text between them."""
    out, pos = [], 0
    for match in PROTECTED.finditer(text):
        if match.start() > pos:
            out.append((True, text[pos : match.start()]))
        out.append((False, match.group(0)))
        pos = match.end()
    if pos < len(text):
        out.append((True, text[pos:]))
    return [(flag and has_words(piece), piece) for flag, piece in out]


def has_words(text: str) -> bool:
    """Whether there is anything to translate once protected spans are gone (letters, not just digits)."""
    return bool(_HAS_WORD.search(PROTECTED.sub(" ", text)))
