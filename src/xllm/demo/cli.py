"""Demo commands: generate the synthetic data, the tiny base model, and its English corpus."""

from __future__ import annotations

import json


def cmd_demo_data(args) -> int:
    from .make_data import make_demo_data

    spec = json.loads(args.spec)
    written = make_demo_data(
        out_dir=args.out_dir, spec_dir=args.spec_dir, languages=spec["languages"], seed=args.seed,
        pairs_per_language=spec["pairs_per_language"], n_dev=spec["n_dev"], n_devtest=spec["n_devtest"],
        n_alpaca=spec["n_alpaca"], n_qa_paragraphs=spec["n_qa_paragraphs"],
    )
    print(f"demo data: {len(written)} files in {args.out_dir}")
    return 0


def cmd_demo_base(args) -> int:
    from .make_data import corpus_texts
    from .tiny_model import make_tiny_llama

    texts = list(corpus_texts(args.texts)) if args.texts else None
    make_tiny_llama(args.out, args.hidden_size, args.layers, args.heads, args.max_length, args.seed,
                    texts=texts, vocab_size=args.vocab_size)
    kind = f"byte-level BPE of {args.vocab_size} trained on {len(texts)} texts" if texts else "bytes"
    print(f"tiny Llama (random init, tokenizer: {kind}) in {args.out}")
    return 0


def cmd_demo_english(args) -> int:
    from .make_data import english_text

    n = english_text(args.inputs, args.out)
    print(f"{n} English texts for pre-training in {args.out}")
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
    p.set_defaults(func=cmd_demo_base)

    p = sub.add_parser("demo-english", help="the English side of the demo data, for pre-training")
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_demo_english)
