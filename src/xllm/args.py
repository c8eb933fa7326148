"""Command-line argument helpers shared by the stages' CLIs."""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing

from .errors import UserError


def key_values(values: list[str] | None, flag: str) -> dict[str, str]:
    """Repeated ``--flag KEY=VALUE`` options as a dict; anything else is a one-line error."""
    out = {}
    for value in values or []:
        if "=" not in value:
            raise UserError(f"{flag}: expected KEY=VALUE, got {value!r}")
        key, val = value.split("=", 1)
        out[key] = val
    return out


# ---------------------------------------------------------------- typed settings
# One dataclass per stage declares each setting once, with its default and help; the command line
# and the workflow's config section both fill it. (transformers' HfArgumentParser does the same,
# but importing it costs ~3 s, which every `xllm` command would pay.)

RUNTIME = "runtime"  # field metadata: the setting changes how a job runs, not what it writes


def setting(default=dataclasses.MISSING, help: str = "", runtime: bool = False, choices=None, **kwargs):
    """A dataclass field with its command-line help; ``runtime`` settings do not change outputs."""
    meta = {"help": help, RUNTIME: runtime, "choices": choices}
    return dataclasses.field(default=default, metadata=meta, **kwargs)


def _base_type(hint):
    """``X | None`` -> X; anything else as it is."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _required(f) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _default(f):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def add_settings_arguments(parser: argparse.ArgumentParser, *classes, skip: tuple[str, ...] = ()) -> None:
    """A ``--flag`` per field of ``classes`` (booleans get ``--no-flag`` too), plus ``--settings``.

    Flags have no argparse defaults: an absent flag leaves the value to ``--settings`` and then to
    the dataclass, so each default is written once, in the dataclass.
    """
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in skip:
                continue
            kind = _base_type(hints[f.name])
            if typing.get_origin(kind) is dict or kind is dict:
                continue  # mappings come through --settings only
            options = {"dest": f.name, "default": argparse.SUPPRESS, "help": f.metadata.get("help") or None}
            if kind is bool:
                options["action"] = argparse.BooleanOptionalAction
            elif typing.get_origin(kind) is list or kind is list:
                options["type"] = _comma_list
                options["metavar"] = "A,B,..."
            else:
                options["type"] = kind
                if f.metadata.get("choices"):
                    options["choices"] = f.metadata["choices"]
            parser.add_argument("--" + f.name.replace("_", "-"), **options)
    parser.add_argument(
        "--settings",
        metavar="JSON",
        help="settings as one JSON object (the workflow passes its config section); flags override it",
    )


def settings_from_args(args: argparse.Namespace, *classes):
    """Instances of ``classes`` from ``--settings`` JSON overlaid with the flags that were given."""
    given = {}
    if getattr(args, "settings", None):
        try:
            given = json.loads(args.settings)
        except json.JSONDecodeError as err:
            raise UserError(f"--settings: not a JSON object ({err})") from None
        if not isinstance(given, dict):
            raise UserError("--settings: not a JSON object")
    names = {f.name for cls in classes for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise UserError(f"--settings: unknown setting(s) {', '.join(unknown)}")
    given.update({k: v for k, v in vars(args).items() if k in names})
    out = []
    for cls in classes:
        own = {f.name: given[f.name] for f in dataclasses.fields(cls) if f.name in given}
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in own and _required(f)]
        if missing:
            raise UserError(f"missing --{', --'.join(m.replace('_', '-') for m in missing)}")
        out.append(cls(**own))
    return out[0] if len(out) == 1 else tuple(out)


def output_settings(cls, section: dict) -> dict:
    """The resolved values of the fields of ``cls`` that determine a job's output: a job's params."""
    return {
        f.name: section.get(f.name, _default(f))
        for f in dataclasses.fields(cls)
        if not f.metadata.get(RUNTIME) and not _required(f)
    }


def runtime_settings(cls, section: dict) -> dict:
    """The runtime fields of ``cls`` that ``section`` sets: how a job runs, passed outside its params."""
    return {f.name: section[f.name] for f in dataclasses.fields(cls) if f.metadata.get(RUNTIME) and f.name in section}
