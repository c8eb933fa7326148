"""Data commands: download, prepare-corpus, subset-corpus, prepare-alpaca, prepare-testset, corpus-stats."""

from __future__ import annotations

from ..errors import UserError


def cmd_download(args) -> int:
    from .download import download

    download(
        args.file,
        args.sources,
        args.lock,
        args.out,
        mirror=args.mirror,
        retries=args.retries,
        backoff=args.backoff,
        timeout=args.timeout,
    )
    return 0


def _verify(args, *paths) -> None:
    if args.lock and args.sources:
        from .download import verify_downloaded

        verify_downloaded(paths, args.sources, args.lock)


def cmd_prepare_corpus(args) -> int:
    from .clean import Settings, prepare_corpus

    _verify(args, *args.inputs)
    settings = Settings(min_margin=args.min_margin, max_chars=args.max_chars, max_ratio=args.max_ratio)
    from ..args import key_values

    line_aligned = key_values(args.line_aligned, "--line-aligned")
    if not args.inputs and not line_aligned:
        raise UserError("prepare-corpus: no corpus (--inputs or --line-aligned)")
    record = prepare_corpus(
        args.lang,
        args.inputs,
        args.sources,
        args.flores_exclude or [],
        args.out,
        args.manifest,
        settings,
        line_aligned=line_aligned,
    )
    print(f"{args.lang}: {record['pairs']} pairs in {args.out}")
    return 0


def cmd_subset_corpus(args) -> int:
    from .subset import subset_corpus

    n = subset_corpus(args.corpus, args.scale, args.seed, args.out)
    print(f"{n} pairs in {args.out}")
    return 0


def cmd_prepare_alpaca(args) -> int:
    from .alpaca import prepare_alpaca

    _verify(args, args.input)
    n = prepare_alpaca(args.input, args.out)
    print(f"{n} instructions in {args.out}")
    return 0


def cmd_prepare_testset(args) -> int:
    from . import testsets

    _verify(args, args.input)
    if args.task == "flores":
        if args.lang is None or args.split is None:
            raise UserError("--task flores needs --lang and --split")
        if args.split not in ("dev", "devtest"):
            raise UserError(f"--split {args.split}: FLORES has dev and devtest")
        n = testsets.prepare_flores(args.lang, args.split, args.input, args.sources, args.out)
    elif args.task == "xquad":
        if args.lang is None:
            raise UserError("--task xquad needs --lang")
        n = testsets.prepare_xquad(args.lang, args.input, args.sources, args.out)
    else:
        if args.setting is None:
            raise UserError("--task mlqa needs --setting CONTEXT-QUESTION (e.g. en-ar)")
        if args.split not in (None, "dev", "test"):
            raise UserError(f"--split {args.split}: MLQA has dev and test")
        n = testsets.prepare_mlqa(args.setting, args.split or "test", args.input, args.sources, args.out)
    print(f"{args.task}: {n} items in {args.out}")
    return 0


def cmd_prepare_mieval(args) -> int:
    from .testsets import prepare_mieval

    n = prepare_mieval(args.input, args.out)
    print(f"mieval: {n} instructions in {args.out}")
    return 0


def cmd_corpus_stats(args) -> int:
    from ..args import key_values
    from .stats import corpus_stats

    corpus_stats(args.manifests, args.out, args.paper_tables, key_values(args.lang_name, "--lang-name"))
    print(f"corpus statistics in {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("download", help="fetch one file of the sources file (or copy it from a mirror), verified")
    p.add_argument("--file", required=True, help="the file's name in the sources file")
    p.add_argument("--sources", required=True)
    p.add_argument("--lock", required=True, help="checksums recorded on first use (created if absent)")
    p.add_argument("--out", required=True)
    p.add_argument("--mirror", help="a local directory holding the file under its name")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--backoff", type=float, default=2.0, help="seconds before the first retry (doubles)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds without data before a retry")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("prepare-corpus", help="clean and merge one language's parallel corpora into Parquet")
    p.add_argument("--lang", required=True)
    p.add_argument("--inputs", nargs="*", default=[], help="downloaded files of the sources file")
    p.add_argument(
        "--line-aligned",
        action="append",
        default=[],
        metavar="CORPUS=FILE.en",
        help="a line-aligned corpus outside the sources file: its English file, the other side beside it "
        "as FILE.<lang> (the authors' bundle: ncwm=translation/ncwm/en-LANG/train.en)",
    )
    p.add_argument("--sources", required=True)
    p.add_argument("--flores-exclude", nargs="*", default=[], help="test-set files no pair may overlap")
    p.add_argument("--lock", help="checksum lock file: verify each input against it (or the pinned sha256) first")
    p.add_argument("--out", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--min-margin", type=float, default=1.04)
    p.add_argument("--max-chars", type=int, default=1000)
    p.add_argument("--max-ratio", type=float, default=3.0)
    p.set_defaults(func=cmd_prepare_corpus)

    p = sub.add_parser("subset-corpus", help="the first N pairs of a seeded permutation (nested scales)")
    p.add_argument("--input", "--corpus", dest="corpus", required=True, help="a prepared corpus (clean.parquet)")
    p.add_argument("--scale", required=True, help="number of pairs, or 'full'")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_subset_corpus)

    p = sub.add_parser("prepare-alpaca", help="check alpaca_data.json and give its items stable ids")
    p.add_argument("--input", required=True)
    p.add_argument("--sources", help="sources file (with --lock: verify the input's checksum first)")
    p.add_argument("--lock", help="checksum lock file: verify the input against it (or the pinned sha256) first")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_prepare_alpaca)

    p = sub.add_parser("prepare-testset", help="a FLORES, XQuAD or MLQA test set from its raw file")
    p.add_argument("--task", required=True, choices=["flores", "xquad", "mlqa"])
    p.add_argument("--lang")
    p.add_argument("--split", choices=["dev", "devtest", "test"])
    p.add_argument("--setting", help="MLQA: CONTEXT-QUESTION languages, e.g. en-ar")
    p.add_argument("--input", required=True)
    p.add_argument("--lock", help="checksum lock file: verify each input against it (or the pinned sha256) first")
    p.add_argument("--sources", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_prepare_testset)

    p = sub.add_parser("prepare-mieval", help="MI-Eval instructions (the authors' mieval/LANG.jsonl) with ids")
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_prepare_mieval)

    p = sub.add_parser("corpus-stats", help="the paper's Table 1 from the cleaning manifests")
    p.add_argument("--manifests", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--paper-tables")
    p.add_argument("--lang-name", action="append", default=[], metavar="LANG=NAME", help="column heading")
    p.set_defaults(func=cmd_corpus_stats)
