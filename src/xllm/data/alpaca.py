"""Stanford Alpaca's ``alpaca_data.json`` checked and given stable ids (``alpaca-<index>``)."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import write_json
from ..errors import UserError

FIELDS = ("instruction", "input", "output")


def prepare_alpaca(path: str | Path, out: str | Path) -> int:
    """Write a JSON list of {id, instruction, input, output}; any malformed item is an error."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(items, list) or not items:
        raise UserError(f"{path}: expected a non-empty JSON list of instructions")
    rows = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UserError(f"{path}: item {i} is not an object")
        for key in FIELDS:
            if not isinstance(item.get(key), str):
                raise UserError(f"{path}: item {i} has no string '{key}'")
        if not item["instruction"].strip():
            raise UserError(f"{path}: item {i} has an empty instruction")
        rows.append({"id": f"alpaca-{i}", **{key: item[key] for key in FIELDS}})
    write_json(out, rows)
    return len(rows)
