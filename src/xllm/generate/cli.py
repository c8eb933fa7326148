"""``xllm generate``: one model's predictions on every test set of its evaluation plan."""

from __future__ import annotations

from ..args import add_settings_arguments, key_values, settings_from_args
from ..errors import UserError


def cmd_generate(args) -> int:
    from .engine import Settings
    from .run import RunOptions, run_plan

    settings, options = settings_from_args(args, Settings, RunOptions)
    for name in ("batch_size", "max_new_tokens", "num_beams"):
        if getattr(settings, name) < 1:
            raise UserError(f"--{name.replace('_', '-')}: must be at least 1")
    if options.limit is not None and options.limit < 1:
        raise UserError("--limit: must be at least 1")
    names = {**options.lang_names, **key_values(args.lang_name, "--lang-name")}
    summary = run_plan(
        args.model,
        args.plan,
        args.out_dir,
        args.staging,
        settings,
        limit=options.limit,
        device=options.device,
        lang_names=names,
        threads=options.threads,
        progress=not options.quiet,
    )
    run = summary["this_run"]
    print(
        f"generate {args.model}: {summary['n_examples']} examples in {len(summary['items'])} items "
        f"({run['n_new_tokens']} new tokens this run, {run['new_tokens_per_s'] or 0} tok/s) -> {args.out_dir}"
    )
    return 0


def register(sub) -> None:
    from .engine import Settings
    from .run import RunOptions

    p = sub.add_parser("generate", help="generate a model's predictions for an evaluation plan")
    p.add_argument("--model", required=True, help="model directory (weights, tokenizer, xllm_prompt.json)")
    p.add_argument("--plan", required=True, help="JSON list of plan items {task, direction, lang, files}")
    p.add_argument("--out-dir", required=True, help="gets TASK/DIRECTION.jsonl and generation.json")
    p.add_argument(
        "--staging", required=True, help="resumable progress, outside --out-dir (removed when the run completes)"
    )
    add_settings_arguments(p, Settings, RunOptions)
    p.add_argument(
        "--lang-name",
        action="append",
        default=[],
        metavar="LANG=NAME",
        help="language name for prompts (default: xllm.languages)",
    )
    p.set_defaults(func=cmd_generate)
