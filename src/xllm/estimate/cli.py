"""``xllm estimate``: the cost of a config's grid before anything runs."""

from __future__ import annotations


def cmd_estimate(args) -> int:
    from ..atomic import write_json
    from ..config import load_yaml
    from .cost import estimate, format_report

    config = load_yaml(args.config)
    result = estimate(config, args.config)
    print(format_report(result, per_job=not args.summary))
    if args.benchmarks:
        from .measured import compare, write_table

        result["measured"] = compare(result, args.benchmarks)
        if args.table:
            write_table(args.table, result["measured"], result["total_gpu_hours"])
    if args.out:
        write_json(args.out, result)
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "estimate",
        help="tokens and GPU-hours of every job of a config's grid, before anything runs",
        description="Tokens each training, translation and generation job will process and its GPU-hours, "
        "from the config's counts and a throughput table (xllm/estimate/defaults.yaml, overridable "
        "under the config's estimate: section). Tokens per example are measured with the base "
        "model's tokenizer on FLORES dev and Alpaca when they are local (results/...), else defaults.",
    )
    p.add_argument("--config", required=True, help="workflow config (config.yaml)")
    p.add_argument("--out", help="write the whole estimate as JSON (total_gpu_hours, by_rule, jobs)")
    p.add_argument("--summary", action="store_true", help="print the per-rule totals only, not every job")
    p.add_argument("--benchmarks", help="results/benchmarks: put each job's measured time beside its estimate")
    p.add_argument("--table", help="with --benchmarks: a Markdown table of estimated beside measured (the report)")
    p.set_defaults(func=cmd_estimate)
