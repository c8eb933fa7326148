"""The ``xllm`` command line. Each stage registers its own subcommands.

A stage exposes ``xllm.<stage>.cli.register(subparsers)``; each subcommand sets ``func`` to a
function taking the parsed args. Stage CLIs import heavy libraries (torch, transformers) inside
their functions, so ``xllm --help`` stays fast. A ``UserError`` becomes one line on stderr and
exit status 2, never a traceback. The installed ``xllm`` script enters through ``xllm.preload``,
which may run the command in a process forked from one with torch imported, and otherwise calls
``main`` here; this module never imports it back.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UserError

STAGES = (
    "plan",
    "data",
    "translate",
    "mixture",
    "train",
    "generate",
    "metrics",
    "scaling",
    "report",
    "demo",
    "hub",
    "estimate",
)


class Parser(argparse.ArgumentParser):
    """A usage mistake is one line too, like every other error (the usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="xllm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        importlib.import_module(f"xllm.{stage}.cli").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed on one line
        return stop.code if isinstance(stop.code, int) else 2
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
