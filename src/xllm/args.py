"""Command-line argument helpers shared by the stages' CLIs."""

from __future__ import annotations

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
