"""A seeded English-like source: sentences, Alpaca-shaped instructions and QA items.

Everything is generated from the small grammar in ``synthetic`` so that the tiny demo model can
learn it in seconds, and so that a synthetic language can translate every piece of it.
"""

from __future__ import annotations

import random

from .synthetic import ADJECTIVES, NOUNS, PREPOSITIONS, VERBS

ZIPF_EXPONENT = 1.1


def zipf_choice(rng: random.Random, words: list[str]) -> str:
    """A word drawn with Zipfian frequencies (the i-th word ~ 1/i^s), as in natural text.

    The long tail is what makes learning a lexicon a power law in the amount of data (rare words
    need many sentences to be seen often enough); with uniform frequencies a small lexicon is
    learned all at once and the demo's curves jump to 100 instead of following the law."""
    weights = [1 / (i + 1) ** ZIPF_EXPONENT for i in range(len(words))]
    return rng.choices(words, weights=weights)[0]


def _np(rng: random.Random, with_adj: float = 0.6) -> list[str]:
    det = rng.choice(["the", "a"])
    noun = zipf_choice(rng, NOUNS)
    if rng.random() < with_adj:
        return [det, zipf_choice(rng, ADJECTIVES), noun]
    return [det, noun]


def sentence(rng: random.Random) -> dict:
    """One clause: subject, verb, object and an optional prepositional phrase."""
    subj, obj = _np(rng), _np(rng)
    verb = zipf_choice(rng, VERBS)
    tokens = subj + [verb] + obj
    pp = []
    if rng.random() < 0.5:
        pp = [zipf_choice(rng, PREPOSITIONS)] + _np(rng, 0.3)
        tokens += pp
    tokens.append(".")
    return {"text": " ".join(tokens), "subject": " ".join(subj), "verb": verb, "object": " ".join(obj)}


def unique_sentences(rng: random.Random, n: int, exclude: set[str] = frozenset()) -> list[dict]:
    seen, out = set(exclude), []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(f"the demo grammar cannot make {n} distinct sentences")
        item = sentence(rng)
        if item["text"] not in seen:
            seen.add(item["text"])
            out.append(item)
    return out


QA_INSTRUCTION = "Answer the final question with following context."  # the "ours" set's English one


def base_form(verb: str) -> str:
    """'carries' -> 'carry', 'watches' -> 'watch', 'sees' -> 'see'."""
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith(("ches", "shes", "sses")):
        return verb[:-2]
    return verb[:-1]


def qa_question(item: dict) -> str:
    return f"what does {item['subject']} {base_form(item['verb'])} ?"


def instructions(rng: random.Random, sentences: list[dict], qa_prompts: str = "authors") -> list[dict]:
    """Alpaca-shaped items over the given sentences: repeat, subject, object, short QA.

    QA items are worded as the evaluation's English QA prompt of set ``qa_prompts``
    (``xllm.generate.tasks``), the prompt the demo's languages fall back to at test time."""
    from ..generate.tasks import qa_prompt

    qa = qa_prompt("en", prompts=qa_prompts)
    items = []
    for i, item in enumerate(sentences):
        kind = i % 4
        if kind == 0:
            items.append({"instruction": "Repeat the sentence.", "input": item["text"], "output": item["text"]})
        elif kind == 1:
            items.append(
                {"instruction": "Name the subject of the sentence.", "input": item["text"], "output": item["subject"]}
            )
        elif kind == 2:
            items.append(
                {"instruction": "Name the object of the sentence.", "input": item["text"], "output": item["object"]}
            )
        else:
            others = rng.sample(sentences, k=2)
            context = [o["text"] for o in others] + [item["text"]]
            rng.shuffle(context)
            items.append(
                {
                    "instruction": qa["instruction"],
                    "input": qa["input"].format(context=" ".join(context), question=qa_question(item)),
                    "output": item["object"],
                }
            )
    return items


def qa_paragraphs(rng: random.Random, sentences: list[dict], per_paragraph: int = 3) -> list[dict]:
    """SQuAD-shaped paragraphs: each sentence of a paragraph yields one question about its object."""
    paragraphs = []
    for start in range(0, len(sentences) - per_paragraph + 1, per_paragraph):
        group = sentences[start : start + per_paragraph]
        subjects = [g["subject"] for g in group]
        if len(set(subjects)) < len(subjects):
            continue  # ambiguous question; skip the paragraph
        paragraphs.append(
            {
                "context": " ".join(g["text"] for g in group),
                "qas": [{"question": qa_question(g), "answer": g["object"]} for g in group],
            }
        )
    return paragraphs
