"""Language codes: one table from ISO 639-1 to the names and codes each tool expects.

Custom languages (the demo's synthetic ones, or a language a user adds) are registered from the
config's ``custom_languages`` map with at least a ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UserError


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 (or the demo's own code)
    name: str  # English name, used in prompts ("Translate ... from English to Arabic.")
    flores: str | None = None  # FLORES-101 file code
    nllb: str | None = None  # NLLB-200 code
    m2m: str | None = None  # M2M-100 code
    whitespace_tokenized: bool = True  # False for zh (QA metrics segment characters)
    extra: dict = field(default_factory=dict, compare=False)


BUILTIN = {
    lang.code: lang
    for lang in [
        Language("en", "English", "eng", "eng_Latn", "en"),
        Language("ar", "Arabic", "ara", "arb_Arab", "ar"),
        Language("el", "Greek", "ell", "ell_Grek", "el"),
        Language("hi", "Hindi", "hin", "hin_Deva", "hi"),
        Language("tr", "Turkish", "tur", "tur_Latn", "tr"),
        Language("vi", "Vietnamese", "vie", "vie_Latn", "vi"),
        Language("zh", "Chinese", "zho_simpl", "zho_Hans", "zh", whitespace_tokenized=False),
        Language("de", "German", "deu", "deu_Latn", "de"),
        Language("es", "Spanish", "spa", "spa_Latn", "es"),
        Language("ru", "Russian", "rus", "rus_Cyrl", "ru"),
    ]
}


def registry(custom: dict | None = None) -> dict[str, Language]:
    """Built-in languages plus the config's ``custom_languages`` (code -> {name, ...})."""
    table = dict(BUILTIN)
    for code, info in (custom or {}).items():
        info = dict(info)
        name = info.pop("name", None)
        if not name:
            raise UserError(f"custom_languages.{code}: needs a 'name'")
        table[code] = Language(
            code,
            name,
            flores=info.pop("flores", code),
            nllb=info.pop("nllb", None),
            m2m=info.pop("m2m", None),
            whitespace_tokenized=info.pop("whitespace_tokenized", True),
            extra=info,
        )
    return table


def get(code: str, custom: dict | None = None) -> Language:
    table = registry(custom)
    if code not in table:
        raise UserError(f"unknown language {code!r}; known: {', '.join(sorted(table))}")
    return table[code]
