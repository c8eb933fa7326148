"""``xllm build-mixture``: one model's training data from its recipe."""

from __future__ import annotations

import os
from pathlib import Path

from ..args import key_values
from ..atomic import read_json
from ..errors import UserError
from ..provenance import CONFIG_HASH_ENV


def cmd_build_mixture(args) -> int:
    from .build import build_mixture
    from .recipes import load_recipes, parse_model_id

    recipes = load_recipes(args.recipes)
    model = parse_model_id(args.model)
    if model.recipe not in recipes:
        raise UserError(f"--model {args.model}: recipe {model.recipe!r} is not in {args.recipes}")
    langs = [code for code in args.langs.split(",") if code]
    counts: dict[str, int | None] = {lang: None for lang in langs}
    if args.allocation:
        allocation = read_json(args.allocation, "an allocation")
        # a split file of one kind (split-uniform) or allocate-fits' record of both
        chosen = (
            allocation["uniform"]["allocation"]
            if args.alloc == "uniform" and "uniform" in allocation
            else allocation["allocation"]
        )
        missing = [lang for lang in langs if lang not in chosen]
        if missing:
            raise UserError(f"{args.allocation}: no {args.alloc} allocation for {', '.join(missing)}")
        counts = {lang: int(chosen[lang]) for lang in langs}
    manifest = build_mixture(
        recipe=recipes[model.recipe],
        langs=langs,
        alpaca={k: Path(v) for k, v in key_values(args.alpaca, "--alpaca").items()},
        pairs={k: Path(v) for k, v in key_values(args.pairs, "--pairs").items()},
        pair_counts=counts,
        lang_names=key_values(args.lang_name, "--lang-name"),
        templates=args.template or args.translation_instructions,
        instruction_choice=args.instruction_choice,
        seed=args.seed,
        out=Path(args.out),
        manifest=Path(args.manifest),
        monolingual={k: Path(v) for k, v in key_values(args.monolingual, "--monolingual").items()},
        tokenizer_dir=args.tokenizer,
        meta={"model": args.model, "config_hash": args.config_hash or os.environ.get(CONFIG_HASH_ENV)},
    )
    print(f"mixture {args.model}: {manifest['rows']} rows {manifest['parts']}")
    return 0


def cmd_subset_text(args) -> int:
    from .monolingual import subset_text

    if args.sources and args.lock:  # a downloaded source (mC4): verified again where it is read
        from ..data.download import verify_downloaded

        verify_downloaded([args.input], args.sources, args.lock)
    n = subset_text(args.input, args.scale, args.seed, args.out)
    print(f"{n} documents of {args.input} -> {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("subset-text", help="nested seeded subset of monolingual text (continued pre-training)")
    p.add_argument(
        "--input", required=True, help="text (one document per line) or JSONL with 'text', either gzipped (mC4)"
    )
    p.add_argument("--scale", required=True, help="number of documents, or full")
    p.add_argument("--sources", help="sources file (with --lock: verify a downloaded input's checksum first)")
    p.add_argument("--lock", help="checksum lock file of the downloads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_subset_text)

    p = sub.add_parser("build-mixture", help="build one model's instruction mixture from its recipe")
    p.add_argument("--model", required=True, help="model id, e.g. coit/ar/20000")
    p.add_argument("--recipes", required=True)
    p.add_argument("--langs", required=True, help="comma-separated target languages of the model")
    p.add_argument("--alpaca", action="append", default=[], metavar="LANG=FILE")
    p.add_argument("--pairs", action="append", default=[], metavar="LANG=FILE")
    p.add_argument("--monolingual", action="append", default=[], metavar="LANG=FILE")
    p.add_argument("--lang-name", action="append", default=[], metavar="LANG=NAME")
    p.add_argument("--allocation", help="results/allocation/{budget}.json for muit-budget models")
    p.add_argument("--alloc", choices=["uniform", "optimized"], default="optimized")
    p.add_argument(
        "--template",
        action="append",
        default=[],
        help="a translation instruction template ({src}, {tgt}); repeated: several (overrides "
        "--translation-instructions)",
    )
    p.add_argument(
        "--translation-instructions",
        choices=["authors", "single"],
        default="authors",
        help="authors: their 33 templates; single: the first only (the test-time instruction)",
    )
    p.add_argument(
        "--instruction-choice",
        choices=["rotate", "random"],
        default="rotate",
        help="rotate: pair k gets template k mod n (the authors'); random: a seeded draw",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer", help="count tokens with this tokenizer (model directory)")
    p.add_argument("--config-hash", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--manifest", required=True)
    p.set_defaults(func=cmd_build_mixture)
