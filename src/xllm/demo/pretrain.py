"""Pre-train the demo's tiny base model until it can copy, the ability translation builds on.

A 2-layer model learns to copy earlier text (an induction circuit) in a sudden phase change whose
step varies with the seed: 400 steps for one, over 800 for another, on the same data. A fixed
step budget therefore gave base models that sometimes could not copy, and then every fine-tuned
model wrote fluent text unrelated to its source and the scaling fits meant nothing. So the demo
trains in rounds and measures copying on held-out sentences after each: the echo's mean NLL per
token (``text\\n>>> text``, the prompt marker of the compact style) must fall to ``threshold``.
Each round's model is kept, so a killed job resumes at the round it was in.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from ..atomic import atomic_dir, write_json
from ..prompts import COMPACT_NO_INPUT

RECORD = "xllm_pretrain.json"  # in the final model directory: the rounds and their copy NLL


def echo(text: str) -> str:
    """A sentence, the compact prompt marker, the sentence again: the copy signal."""
    return COMPACT_NO_INPUT.format(instruction=text) + text


def copy_nll(model_dir: str | Path, sentences: list[str]) -> float:
    """Mean NLL (nats per token) of the second copy in ``echo(sentence)``: ~0 for a model that copies."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for text in sentences:
            prefix = tokenizer(COMPACT_NO_INPUT.format(instruction=text))["input_ids"]
            ids = tokenizer(echo(text))["input_ids"]
            if ids[: len(prefix)] != prefix:
                raise ValueError(f"the tokenizer merges across the prompt marker in {text!r}")
            logits = model(torch.tensor([ids])).logits[0, :-1]
            nll = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="none")
            total += nll[len(prefix) - 1 :].sum().item()
            count += len(ids) - len(prefix)
    if not count:
        raise ValueError("no held-out sentences to measure copying on")
    return total / count


def pretrain_until_copying(
    cfg,
    probe: list[str],
    first_epochs: float,
    round_epochs: float,
    max_rounds: int,
    threshold: float,
    work_dir: str | Path,
) -> list[dict]:
    """Train ``cfg`` (a TrainConfig) in rounds until ``copy_nll`` <= threshold; returns the rounds.

    Round 1 trains ``first_epochs`` from ``cfg.base``; each later round ``round_epochs`` from the
    previous round's model (a new data order each round). Stops at ``max_rounds`` either way, with
    the record saying whether the model copies, so a bad base is visible, not hidden.
    """
    from ..train.loop import train

    work_dir = Path(work_dir)
    base, rounds = cfg.base, []
    for n in range(1, max_rounds + 1):
        out, epochs = work_dir / f"round-{n}", first_epochs if n == 1 else round_epochs
        if not (out / "config.json").exists():
            train(
                replace(
                    cfg,
                    base=str(base),
                    out=str(out),
                    checkpoint_dir=str(work_dir / f"checkpoints-{n}"),
                    epochs=epochs,
                    seed=cfg.seed + n - 1,
                )
            )
        nll = copy_nll(out, probe)
        rounds.append({"round": n, "epochs": epochs, "copy_nll": round(nll, 4)})
        print(
            f"round {n}: copy NLL {nll:.3f} nats/token on {len(probe)} held-out sentences (target {threshold})",
            flush=True,
        )
        base = out
        if nll <= threshold:
            break
    record = {"rounds": rounds, "threshold": threshold, "copies": rounds[-1]["copy_nll"] <= threshold}
    with atomic_dir(cfg.out) as tmp:
        shutil.copytree(base, tmp, dirs_exist_ok=True)
        write_json(tmp / RECORD, record)
    return rounds
