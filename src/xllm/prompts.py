"""Prompt formats and translation instructions shared by training and generation.

One module holds every prompt text, so training and evaluation see byte-identical prompts and the
authors' protocol (NJUNLP/x-LLM, built on stanford_alpaca) is written down once:

- ``authors``: stanford_alpaca's PROMPT_DICT exactly; the prompt ends in "### Response:" with no
  newline and the target is the output followed directly by EOS. The default.
- ``ours``: the same wrapper with a newline after "### Response:" (this project's first format;
  model directories written then say ``alpaca``, which therefore still means ``ours``).
- ``compact``: a short wrapper for the byte-level demo models, whose compute is prompt length.

Translation instructions: the authors rotate 33 (training example k of a translation corpus gets
instruction k mod 33) and test with the first, the paper's Appendix C prompt.
"""

from __future__ import annotations

import json
from pathlib import Path

_ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
_ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:"
)
AUTHORS_WITH_INPUT, AUTHORS_NO_INPUT = _ALPACA_WITH_INPUT, _ALPACA_NO_INPUT
OURS_WITH_INPUT, OURS_NO_INPUT = _ALPACA_WITH_INPUT + "\n", _ALPACA_NO_INPUT + "\n"
# Kept for callers of the first version: the "ours" format.
PROMPT_WITH_INPUT, PROMPT_NO_INPUT = OURS_WITH_INPUT, OURS_NO_INPUT
COMPACT_WITH_INPUT = "{instruction}\n{input}\n>>> "
COMPACT_NO_INPUT = "{instruction}\n>>> "
STYLES = {
    "authors": (AUTHORS_WITH_INPUT, AUTHORS_NO_INPUT),
    "ours": (OURS_WITH_INPUT, OURS_NO_INPUT),
    "alpaca": (OURS_WITH_INPUT, OURS_NO_INPUT),  # what model directories of the first version say
    "compact": (COMPACT_WITH_INPUT, COMPACT_NO_INPUT),
}
DEFAULT_STYLE = "authors"
STYLE_FILE = "xllm_prompt.json"  # in a model directory: {"style": "compact"}; absent = DEFAULT_STYLE

# data/translation/translation.py of NJUNLP/x-LLM, in order ({src}/{tgt}: English language names).
AUTHORS_TRANSLATION_INSTRUCTIONS = (
    "Translate the following sentences from {src} to {tgt}.",
    "What do the following sentences mean in {tgt}?",
    "Please provide the {tgt} translation for the following sentences.",
    "Convert the subsequent sentences from {src} into {tgt}.",
    "Render the listed sentences in {tgt} from their original {src} form.",
    "Transform the upcoming sentences from {src} language to {tgt} language.",
    "Change the given sentences from {src} to {tgt} format.",
    "Turn the following sentences from their {src} version to the {tgt} version.",
    "Adapt the mentioned sentences from {src} to the {tgt} language.",
    "Transpose the next sentences from the {src} format to the {tgt} format.",
    "Switch the specified sentences from their {src} form to {tgt} form.",
    "Reinterpret the ensuing sentences from {src} to {tgt} language.",
    "Modify the forthcoming sentences, converting them from {src} to {tgt}.",
    "How can the subsequent sentences be interpreted in {tgt}?",
    "What is the meaning of these sentences when translated to {tgt}?",
    "In the context of {tgt}, what do the upcoming sentences signify?",
    "How would you express the meaning of the following sentences in {tgt}?",
    "What is the significance of the mentioned sentences in {tgt}?",
    "In {tgt}, what do the given sentences convey?",
    "When translated to {tgt}, what message do these sentences carry?",
    "What is the intended meaning of the ensuing sentences in {tgt}?",
    "How should the following sentences be comprehended in {tgt}?",
    "In terms of {tgt}, what do the next sentences imply?",
    "Kindly furnish the {tgt} translation of the subsequent sentences.",
    "Could you supply the {tgt} translation for the upcoming sentences?",
    "Please offer the {tgt} rendition for the following statements.",
    "I'd appreciate it if you could present the {tgt} translation for these sentences.",
    "Can you deliver the {tgt} translation for the mentioned sentences?",
    "Please share the {tgt} version of the given sentences.",
    "It would be helpful if you could provide the {tgt} translation of the ensuing sentences.",
    "Kindly submit the {tgt} interpretation for the next sentences.",
    "Please make available the {tgt} translation for the listed sentences.",
    "Can you reveal the {tgt} translation of the forthcoming sentences?",
)
# The test-time instruction (the paper's Appendix C prompt), and the one template of "single".
TRANSLATION_INSTRUCTION = AUTHORS_TRANSLATION_INSTRUCTIONS[0]
INSTRUCTION_SETS = {"authors": AUTHORS_TRANSLATION_INSTRUCTIONS, "single": (TRANSLATION_INSTRUCTION,)}
INSTRUCTION_CHOICES = ("rotate", "random")  # rotate: example k gets k mod n (authors); random: seeded draw


def format_prompt(instruction: str, input: str = "", style: str = DEFAULT_STYLE) -> str:
    """The text the model sees before its response (the response follows directly)."""
    with_input, no_input = STYLES[style]
    if input and input.strip():
        return with_input.format(instruction=instruction, input=input)
    return no_input.format(instruction=instruction)


def check_style(style: str, where: str = "prompt format") -> str:
    if style not in STYLES:
        raise ValueError(f"{where}: unknown prompt format {style!r}; known: {', '.join(STYLES)}")
    return style


def prompt_style(model_dir: str | Path) -> str:
    """The prompt format a model was trained with (its directory's ``xllm_prompt.json``)."""
    path = Path(model_dir) / STYLE_FILE
    if not path.exists():
        return DEFAULT_STYLE
    return check_style(json.loads(path.read_text(encoding="utf-8")).get("style", DEFAULT_STYLE), str(path))


def translation_templates(spec: str | list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Instruction templates from a set name (``authors``: the 33, ``single``: the first) or a list.

    None or an empty list is the authors' set. Templates use {src}/{tgt}; the authors'
    {source_lang}/{target_lang} are accepted too (``translation_instruction`` fills both)."""
    if not spec:
        return list(AUTHORS_TRANSLATION_INSTRUCTIONS)
    if isinstance(spec, str):
        if spec not in INSTRUCTION_SETS:
            raise ValueError(
                f"translation instructions: {spec!r} is not one of {', '.join(INSTRUCTION_SETS)} or a list of templates"
            )
        return list(INSTRUCTION_SETS[spec])
    return list(spec)


def translation_instruction(src_name: str, tgt_name: str, template: str = TRANSLATION_INSTRUCTION) -> str:
    return template.format(src=src_name, tgt=tgt_name, source_lang=src_name, target_lang=tgt_name)


def pick_template(templates: list[str], k: int, choice: str = "rotate", rng=None) -> str:
    """The template of the k-th example of a translation part: k mod n (the authors') or a seeded draw."""
    if choice == "rotate":
        return templates[k % len(templates)]
    if choice == "random":
        return templates[rng.randrange(len(templates))]
    raise ValueError(f"instruction choice {choice!r} is not one of {', '.join(INSTRUCTION_CHOICES)}")


def instruction_texts(templates: list[str], lang_names: dict[str, str], langs: list[str]) -> list[str]:
    """Every translation instruction a mixture over ``langs`` can hold (en↔X), e.g. for the demo's
    tokenizer to learn them as a real LLM's tokenizer already knows their words."""
    return [
        translation_instruction(lang_names[s], lang_names[t], template)
        for template in templates
        for lang in langs
        for s, t in (("en", lang), (lang, "en"))
    ]
