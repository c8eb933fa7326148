"""The ``xllm`` command line. Each stage registers its own subcommands.

A stage exposes ``xllm.<stage>.cli.register(subparsers)``; each subcommand sets ``func`` to a
function taking the parsed args. Stage CLIs import heavy libraries (torch, transformers) inside
their functions, so ``xllm --help`` stays fast. A ``UserError`` becomes one line on stderr and
exit status 2, never a traceback. With ``XLLM_PRELOAD=1`` the command runs in a process forked
from one that has torch imported already (``xllm.preload``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import UserError

STAGES = ("data", "translate", "mixture", "train", "generate", "metrics", "scaling", "report", "demo", "hub",
          "estimate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xllm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        name = f"xllm.{stage}.cli"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name in (name, f"xllm.{stage}"):
                continue  # stage not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None and os.environ.get("XLLM_PRELOAD") == "1":
        from . import preload

        if preload.enabled():
            code = preload.run(sys.argv)
            if code is not None:
                return code
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"xllm {args.command}: error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"xllm {args.command}: error: no such file: {err.filename}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
