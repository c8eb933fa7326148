"""Synthetic languages: deterministic transformations of an English-like corpus.

A synthetic language is English put through up to four transformations, each a knob on its
distance from English: lexicon substitution (a share of the words replaced by pseudo-words),
word order (adjectives after nouns; verb-final clauses), affixes (a noun suffix) and another
Unicode script (transliteration of Latin letters). The transformations are functions of the text
alone, so any English text (Alpaca items, test sets, QA contexts) can be "translated", and a
language further from English really needs more parallel data to be learned.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

# A small English: every word has one part of speech, so transformations can find them.
DETERMINERS = ["the", "a"]
ADJECTIVES = """red small old quiet happy green tall brave cold dark bright young heavy
    soft quick lazy proud calm wild clever""".split()
NOUNS = """fox bird farmer teacher child river house garden boat king queen doctor cat
    horse village market mountain forest friend baker sailor tree road bridge""".split()
VERBS = """sees finds helps follows paints builds watches visits carries loves calls
    feeds meets likes pushes""".split()
PREPOSITIONS = "near behind under beside".split()

POS = {w: "DET" for w in DETERMINERS}
POS.update({w: "ADJ" for w in ADJECTIVES})
POS.update({w: "NOUN" for w in NOUNS})
POS.update({w: "VERB" for w in VERBS})
POS.update({w: "PREP" for w in PREPOSITIONS})

SCRIPTS = {
    "latin": None,
    # Letter-by-letter transliteration into Cyrillic (a different script, same sounds).
    "cyrillic": dict(zip("abcdefghijklmnopqrstuvwxyz", "абцдефгхийклмнопярстуввхыз")),
    "greek": dict(zip("abcdefghijklmnopqrstuvwxyz", "αβψδεφγηιξκλμνοπθρστυϝωχυζ")),
}
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SYLLABLE_ONSETS = "b d f g k l m n p r s t v z".split()
_SYLLABLE_VOWELS = "a e i o u".split()


def _unit(seed: int, word: str, salt: str) -> int:
    digest = hashlib.sha256(f"{seed}:{salt}:{word}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def pseudo_word(seed: int, word: str) -> str:
    """A pronounceable stand-in for ``word``, the same for the same (seed, word)."""
    h = _unit(seed, word, "lex")
    n_syllables = 1 + h % 3
    h //= 3
    parts = []
    for _ in range(n_syllables):
        parts.append(_SYLLABLE_ONSETS[h % len(_SYLLABLE_ONSETS)])
        h //= len(_SYLLABLE_ONSETS)
        parts.append(_SYLLABLE_VOWELS[h % len(_SYLLABLE_VOWELS)])
        h //= len(_SYLLABLE_VOWELS)
    return "".join(parts)


@dataclass(frozen=True)
class LanguageSpec:
    """The knobs of one synthetic language (all zero/off = English)."""

    code: str
    name: str
    seed: int = 0
    lexicon_fraction: float = 1.0  # share of word types replaced by pseudo-words
    adjective_after_noun: bool = False
    verb_final: bool = False
    noun_suffix: str = ""
    script: str = "latin"

    def distance(self) -> float:
        """A rough a-priori distance from English in [0, 1] (for docs and sanity checks)."""
        return (
            0.4 * self.lexicon_fraction
            + 0.15 * self.adjective_after_noun
            + 0.15 * self.verb_final
            + 0.1 * bool(self.noun_suffix)
            + 0.2 * (self.script != "latin")
        )


class SyntheticLanguage:
    def __init__(self, spec: LanguageSpec):
        if spec.script not in SCRIPTS:
            raise ValueError(f"unknown script {spec.script!r}; known: {', '.join(SCRIPTS)}")
        self.spec = spec
        self._script = SCRIPTS[spec.script]

    def _substitute(self, word: str) -> str:
        share = (_unit(self.spec.seed, word, "keep") % 10_000) / 10_000
        if share >= self.spec.lexicon_fraction or word.isdigit():
            return word
        return pseudo_word(self.spec.seed, word)

    def _transliterate(self, text: str) -> str:
        if not self._script:
            return text
        return "".join(self._script.get(ch, ch) for ch in text)

    def translate_tokens(self, tokens: list[str]) -> list[str]:
        tokens = list(tokens)
        if self.spec.adjective_after_noun:
            i = 0
            while i < len(tokens) - 1:
                if POS.get(tokens[i]) == "ADJ" and POS.get(tokens[i + 1]) == "NOUN":
                    tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
                    i += 2
                else:
                    i += 1
        if self.spec.verb_final:
            tokens = self._verb_final(tokens)
        out = []
        for tok in tokens:
            if not tok[0].isalnum() and tok[0] != "_":
                out.append(tok)
                continue
            word = self._substitute(tok.lower())
            if POS.get(tok.lower()) == "NOUN" and self.spec.noun_suffix:
                word += self.spec.noun_suffix
            out.append(self._transliterate(word))
        return out

    @staticmethod
    def _verb_final(tokens: list[str]) -> list[str]:
        """Move each clause's first verb to the clause end (before its punctuation)."""
        out, clause = [], []
        for tok in tokens + ["\0"]:
            if tok == "\0" or (not tok[0].isalnum() and tok not in ("'",)):
                verbs = [t for t in clause if POS.get(t) == "VERB"][:1]
                if verbs:
                    clause.remove(verbs[0])
                    clause.append(verbs[0])
                out.extend(clause)
                if tok != "\0":
                    out.append(tok)
                clause = []
            else:
                clause.append(tok)
        return out

    def translate(self, text: str) -> str:
        """Translate any English text; whitespace between tokens is normalized to one space."""
        lines = text.split("\n")
        return "\n".join(" ".join(self.translate_tokens(_TOKEN.findall(line))) for line in lines)


def load_language(spec_path: str | Path) -> SyntheticLanguage:
    """Load a language from the JSON spec the demo writes (used by the demo translation backend)."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    return SyntheticLanguage(LanguageSpec(**{k: v for k, v in spec.items() if k in LanguageSpec.__dataclass_fields__}))


def spec_to_json(spec: LanguageSpec) -> dict:
    return asdict(spec) | {"distance": round(spec.distance(), 3)}
