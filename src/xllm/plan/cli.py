"""``xllm check-config``: a config's mistakes before any job, including YAML syntax by file and line.

Snakemake parses a ``--configfile`` itself and reports a YAML mistake without file or line; this
command reads it as the workflow would (schema defaults, schema, cross-key checks) and names both.
"""

from __future__ import annotations

import os


def cmd_check_config(args) -> int:
    from .. import config as xllm_config
    from .grid import Grid

    config = xllm_config.prepare(xllm_config.load_yaml(args.config), args.schema)
    grid = Grid(config)
    print(f"{args.config}: ok ({len(grid.langs)} languages, {len(grid.all_models())} models)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("check-config", help="check a workflow config file (YAML, schema, cross-key) before a run")
    p.add_argument("config", help="the config file, e.g. config.yaml")
    p.add_argument(
        "--schema",
        default=os.path.join("workflow", "schemas", "config.schema.yaml"),
        help="the workflow's config schema (default: the one of the current directory)",
    )
    p.set_defaults(func=cmd_check_config)
