"""``xllm generate``: one model's predictions on every test set of its evaluation plan."""

from __future__ import annotations

from ..args import key_values
from ..errors import UserError


def cmd_generate(args) -> int:
    from .engine import BACKENDS, Settings
    from .run import run_plan

    if args.backend not in BACKENDS:
        raise UserError(f"--backend: {args.backend!r} is not one of {', '.join(BACKENDS)}")
    for name in ("batch_size", "max_new_tokens", "num_beams"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')}: must be at least 1")
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit: must be at least 1")
    settings = Settings(
        batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, num_beams=args.num_beams,
        do_sample=args.do_sample, temperature=args.temperature, top_p=args.top_p, seed=args.seed,
        backend=args.backend, bucket=args.bucket, compile=args.compile,
    )
    summary = run_plan(
        args.model, args.plan, args.out_dir, args.staging, settings, limit=args.limit, device=args.device,
        lang_names=key_values(args.lang_name, "--lang-name"), threads=args.threads, progress=not args.quiet,
    )
    run = summary["this_run"]
    print(f"generate {args.model}: {summary['n_examples']} examples in {len(summary['items'])} items "
          f"({run['n_new_tokens']} new tokens this run, {run['new_tokens_per_s'] or 0} tok/s) -> {args.out_dir}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate a model's predictions for an evaluation plan")
    p.add_argument("--model", required=True, help="model directory (weights, tokenizer, xllm_prompt.json)")
    p.add_argument("--plan", required=True, help="JSON list of plan items {task, direction, lang, files}")
    p.add_argument("--out-dir", required=True, help="gets TASK/DIRECTION.jsonl and generation.json")
    p.add_argument("--staging", required=True,
                   help="resumable progress, outside --out-dir (removed when the run completes)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--num-beams", type=int, default=1)
    p.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=1.0, help="with --do-sample")
    p.add_argument("--top-p", type=float, default=1.0, help="with --do-sample")
    p.add_argument("--seed", type=int, default=0, help="seeds sampling")
    p.add_argument("--limit", type=int, default=None, help="only the first N examples of each item")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--backend", default="auto",
                   help="auto | loop (lean greedy) | static (one shape, compiled step: GPU) | hf-static | "
                        "hf (model.generate)")
    p.add_argument("--bucket", type=int, default=64, help="static backend: pad prompts to a multiple of this")
    p.add_argument("--compile", default="auto",
                   help="static backend: torch.compile mode, none, or backend:NAME "
                        "(auto: reduce-overhead on CUDA, none on CPU)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: 1 for small models)")
    p.add_argument("--lang-name", action="append", default=[], metavar="LANG=NAME",
                   help="language name for prompts (default: xllm.languages)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_generate)
