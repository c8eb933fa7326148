"""Prompt formats shared by training and generation, so both see byte-identical prompts.

The instruction wrapper is stanford_alpaca's (the paper's code base). Translation instructions
use the paper's prompt (Appendix C): "Translate the following sentences from <SRC> to <TGT>."
"""

from __future__ import annotations

PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)
TRANSLATION_INSTRUCTION = "Translate the following sentences from {src} to {tgt}."


def format_prompt(instruction: str, input: str = "") -> str:
    """The text the model sees before its response (the response follows directly)."""
    if input and input.strip():
        return PROMPT_WITH_INPUT.format(instruction=instruction, input=input)
    return PROMPT_NO_INPUT.format(instruction=instruction)


def translation_instruction(src_name: str, tgt_name: str, template: str = TRANSLATION_INSTRUCTION) -> str:
    return template.format(src=src_name, tgt=tgt_name)
