"""Prompt formats shared by training and generation, so both see byte-identical prompts.

The instruction wrapper is stanford_alpaca's (the paper's code base). Translation instructions
use the paper's prompt (Appendix C): "Translate the following sentences from <SRC> to <TGT>."
"""

from __future__ import annotations

import json
from pathlib import Path

PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)
# A short wrapper for byte-level demo models, whose compute is dominated by prompt length.
COMPACT_WITH_INPUT = "{instruction}\n{input}\n>>> "
COMPACT_NO_INPUT = "{instruction}\n>>> "
STYLES = {"alpaca": (PROMPT_WITH_INPUT, PROMPT_NO_INPUT), "compact": (COMPACT_WITH_INPUT, COMPACT_NO_INPUT)}
STYLE_FILE = "xllm_prompt.json"  # in a model directory: {"style": "compact"}; absent = alpaca
TRANSLATION_INSTRUCTION = "Translate the following sentences from {src} to {tgt}."


def format_prompt(instruction: str, input: str = "", style: str = "alpaca") -> str:
    """The text the model sees before its response (the response follows directly)."""
    with_input, no_input = STYLES[style]
    if input and input.strip():
        return with_input.format(instruction=instruction, input=input)
    return no_input.format(instruction=instruction)


def prompt_style(model_dir: str | Path) -> str:
    """The prompt style a model was trained with (its directory's ``xllm_prompt.json``)."""
    path = Path(model_dir) / STYLE_FILE
    if not path.exists():
        return "alpaca"
    style = json.loads(path.read_text(encoding="utf-8")).get("style", "alpaca")
    if style not in STYLES:
        raise ValueError(f"{path}: unknown prompt style {style!r}; known: {', '.join(STYLES)}")
    return style


def translation_instruction(src_name: str, tgt_name: str, template: str = TRANSLATION_INSTRUCTION) -> str:
    return template.format(src=src_name, tgt=tgt_name)
