"""Translate commands: ``translate-alpaca`` (one shard, one backend) and ``merge-alpaca`` (+ QC)."""

from __future__ import annotations

import sys


def _target_language(args):
    from ..errors import UserError
    from ..languages import Language, get

    try:
        lang = get(args.lang)
    except UserError:
        # Custom language: fine for one-pair (Marian) models; NLLB/M2M need --lang-code.
        return Language(args.lang, args.lang, nllb=args.lang_code, m2m=args.lang_code)
    if args.lang_code:
        return Language(lang.code, lang.name, lang.flores, args.lang_code, args.lang_code, lang.whitespace_tokenized)
    return lang


def cmd_translate(args) -> int:
    from ..errors import UserError
    from .alpaca import read_items, shard_range, translate_shard

    needs = {
        "demo": ("spec", "the synthetic language's JSON spec"),
        "hf-seq2seq": ("model", "hub id or local path"),
        "import": ("import_file", "translated Alpaca with the same ids"),
    }
    option, what = needs[args.backend]
    if not getattr(args, option):
        raise UserError(f"--backend {args.backend} needs --{option.replace('_', '-')} ({what})")
    items = read_items(args.input)
    start, end = shard_range(len(items), args.shard, args.num_shards)
    shard = items[start:end]
    print(
        f"{args.lang} shard {args.shard}/{args.num_shards}: items {start}..{end - 1} of {len(items)}", file=sys.stderr
    )
    if args.backend == "import":
        from ..atomic import write_json
        from .importer import import_shard

        write_json(args.out, import_shard(shard, args.import_file))
        print(f"imported {len(shard)} items from {args.import_file}", file=sys.stderr)
        return 0
    if args.backend == "demo":
        from .demo_backend import DemoBackend

        backend = DemoBackend(args.spec)
    else:
        from ..languages import get
        from .seq2seq import Seq2SeqBackend

        backend = Seq2SeqBackend(
            args.model,
            get(args.src_lang),
            _target_language(args),
            batch_size=args.batch_size,
            beam_size=args.beam_size,
            max_length=args.max_length,
            device=args.device,
            dtype=args.dtype,
            target_token=args.target_token,
        )
    stats = translate_shard(
        shard, backend, args.out, chunk=args.chunk, split_chars=args.split_chars, progress=not args.no_progress
    )
    print(
        f"translated {stats['items']} items ({stats['unique_units']} unique sentences, "
        f"{stats['resumed_items']} resumed, {stats['marker_fallbacks']} marker fallbacks) -> {args.out}",
        file=sys.stderr,
    )
    return 0


def cmd_merge(args) -> int:
    from ..atomic import write_json
    from ..provenance import provenance
    from .alpaca import read_items
    from .qc import check_against_source, merge_shards, quality_check

    merged = merge_shards(args.shards)
    source = None
    if args.source:
        source = read_items(args.source)
        check_against_source(merged, source, args.source)
    qc = quality_check(
        merged, source, args.lang, english_threshold=args.english_threshold, max_ratio=args.max_length_ratio
    )
    qc["provenance"] = provenance(shards=[str(s) for s in args.shards], source=args.source)
    write_json(args.out, merged)
    write_json(args.qc, qc)
    counts = ", ".join(f"{k}={v}" for k, v in qc["flags"].items())
    print(
        f"{args.lang}: {len(merged)} items from {len(args.shards)} shards; flagged fields: {counts}; "
        f"items flagged: {qc['items_flagged']}"
    )
    return 0


def register(sub) -> None:
    p = sub.add_parser("translate-alpaca", help="translate one shard of Alpaca into a language")
    p.add_argument("--input", required=True, help="English Alpaca: JSON list of {id, instruction, input, output}")
    p.add_argument("--lang", required=True)
    p.add_argument("--src-lang", default="en")
    p.add_argument("--lang-code", help="the target's code for the MT model, overriding the language table")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--backend", choices=["demo", "hf-seq2seq", "import"], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--spec", help="demo: the synthetic language's JSON spec")
    p.add_argument("--model", help="hf-seq2seq: hub id or local path of an NLLB/M2M-100/Marian model")
    p.add_argument("--import-file", help="import: translated Alpaca (JSON or JSONL) with the same ids")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--beam-size", type=int, default=4)
    p.add_argument("--max-length", type=int, default=256, help="max tokens in and out per sentence")
    p.add_argument("--device", default="auto", help="auto (GPU if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--target-token", help="Marian multilingual models: target token such as >>ara<<")
    p.add_argument("--split-chars", type=int, default=200, help="lines longer than this are split into sentences")
    p.add_argument("--chunk", type=int, default=256, help="items per checkpoint (and per length-sorted pool)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("merge-alpaca", help="merge translated shards in order and count QC flags")
    p.add_argument("--shards", nargs="+", required=True, help="shard files in shard order")
    p.add_argument("--lang", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--qc", required=True)
    p.add_argument("--source", help="the English Alpaca: checks ids and enables the source-based flags")
    p.add_argument(
        "--english-threshold",
        type=float,
        default=0.8,
        help="flag still-English when this share of output words is copied from the source",
    )
    p.add_argument("--max-length-ratio", type=float, default=3.0)
    p.set_defaults(func=cmd_merge)
