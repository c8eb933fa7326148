"""Demo commands: generate the synthetic data, the tiny base model, and its English corpus."""

from __future__ import annotations

import json
from pathlib import Path


def cmd_demo_data(args) -> int:
    from .make_data import make_demo_data

    spec = json.loads(args.spec)
    written = make_demo_data(
        out_dir=args.out_dir,
        spec_dir=args.spec_dir,
        languages=spec["languages"],
        seed=args.seed,
        pairs_per_language=spec["pairs_per_language"],
        n_dev=spec["n_dev"],
        n_devtest=spec["n_devtest"],
        n_alpaca=spec["n_alpaca"],
        n_qa_paragraphs=spec["n_qa_paragraphs"],
        qa_prompts=spec.get("qa_prompts", "authors"),
    )
    print(f"demo data: {len(written)} files in {args.out_dir}")
    return 0


PROMPT_WEIGHT = 50


def cmd_demo_base(args) -> int:
    from ..prompts import COMPACT_NO_INPUT
    from .make_data import corpus_texts
    from .tiny_model import make_tiny_llama

    texts = list(corpus_texts(args.texts)) if args.texts else None
    if texts is not None:
        # Prompt words are common English to a real LLM's tokenizer; weighted so the BPE learns
        # them too (else an instruction is ~40 single-character tokens of every example).
        texts += (args.prompt_text + [COMPACT_NO_INPUT.format(instruction="")]) * PROMPT_WEIGHT
    make_tiny_llama(
        args.out,
        args.hidden_size,
        args.layers,
        args.heads,
        args.max_length,
        args.seed,
        texts=texts,
        vocab_size=args.vocab_size,
    )
    kind = f"byte-level BPE of {args.vocab_size} trained on {len(texts)} texts" if texts else "bytes"
    print(f"tiny Llama (random init, tokenizer: {kind}) in {args.out}")
    return 0


def cmd_demo_english(args) -> int:
    from .make_data import english_text

    n = english_text(args.inputs, args.out)
    print(f"{n} English texts for pre-training in {args.out}")
    return 0


def cmd_demo_pretrain(args) -> int:
    from ..train.loop import TrainConfig
    from .pretrain import pretrain_until_copying

    probe = [line.strip() for line in Path(args.probe).read_text(encoding="utf-8").splitlines() if line.strip()]
    cfg = TrainConfig(
        base=args.base,
        data=args.data,
        out=args.out,
        checkpoint_dir=args.work_dir,
        learning_rate=args.learning_rate,
        global_batch_size=args.batch_size,
        per_device_batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        seed=args.seed,
        packing=True,
        lr_scheduler="constant_with_warmup",
        threads=args.threads,
        clean_checkpoints=True,
    )
    rounds = pretrain_until_copying(
        cfg, probe[: args.probe_size], args.epochs, args.round_epochs, args.max_rounds, args.threshold, args.work_dir
    )
    last = rounds[-1]["copy_nll"]
    verdict = (
        "copies"
        if last <= args.threshold
        else "does NOT copy yet: the demo's translations will not follow their source"
    )
    print(f"base model after {len(rounds)} round(s): copy NLL {last:.3f}, {verdict} -> {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo-data", help="write the demo's synthetic corpora in the real formats")
    p.add_argument("--spec", required=True, help="the config's demo section as JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--spec-dir", required=True)
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("demo-base", help="write a randomly initialized tiny byte-level Llama")
    p.add_argument("--out", required=True)
    p.add_argument("--hidden-size", type=int, default=96)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--texts", nargs="*", help="corpora (WikiMatrix .tsv.gz, Alpaca .json) to train the BPE on")
    p.add_argument("--vocab-size", type=int, default=1024)
    p.add_argument(
        "--prompt-text",
        action="append",
        default=[],
        metavar="TEXT",
        help="a text every prompt holds (an instruction), for the BPE to learn its words",
    )
    p.set_defaults(func=cmd_demo_base)

    p = sub.add_parser("demo-pretrain", help="pre-train the tiny base model in rounds until it copies")
    p.add_argument("--base", required=True, help="the randomly initialized model (demo-base)")
    p.add_argument("--data", required=True, help="pre-training JSONL of {text} rows (demo-english)")
    p.add_argument("--probe", required=True, help="held-out English sentences, one per line")
    p.add_argument("--probe-size", type=int, default=40)
    p.add_argument("--out", required=True)
    p.add_argument("--work-dir", required=True, help="each round's model and checkpoints (resumed from)")
    p.add_argument("--epochs", type=float, default=8, help="epochs of the first round")
    p.add_argument("--round-epochs", type=float, default=2, help="epochs of each further round")
    p.add_argument("--max-rounds", type=int, default=5)
    p.add_argument("--threshold", type=float, default=0.25, help="copy NLL (nats/token) to stop at")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=48)
    p.add_argument("--max-seq-length", type=int, default=384)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_demo_pretrain)

    p = sub.add_parser("demo-english", help="the English side of the demo data, for pre-training")
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_demo_english)
