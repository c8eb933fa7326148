"""The import backend: an existing translated Alpaca (JSON list or JSONL) matched to ours by id.

A file whose items carry no ``id`` at all (the authors' released ``alpaca/alpaca_{lang}.json``,
in the order of Stanford's ``alpaca_data.json``) is matched by position: item n is ``alpaca-n``,
the id ``xllm prepare-alpaca`` gives the n-th English item."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .alpaca import FIELDS, read_items


def import_shard(items: list[dict], import_file: str | Path) -> list[dict]:
    """The translations of ``items`` from ``import_file``; every id present, no field left empty."""
    path = Path(import_file)
    if not path.exists():
        raise UserError(f"--import-file {path}: no such file")
    table = {}
    for row in _import_items(path):
        table[str(row["id"])] = row
    missing = [item["id"] for item in items if str(item["id"]) not in table]
    if missing:
        head = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise UserError(f"{path}: {len(missing)} ids missing (e.g. {head})")
    out = []
    for item in items:
        row = table[str(item["id"])]
        new = dict(item)
        for field in FIELDS:
            if field not in item:
                continue
            value = row.get(field, "")
            if item[field].strip() and not (isinstance(value, str) and value.strip()):
                raise UserError(f"{path}: id {item['id']}: {field!r} is empty but the English is not")
            new[field] = value if isinstance(value, str) and item[field].strip() else item[field]
        out.append(new)
    return out


def _import_items(path: Path) -> list[dict]:
    import json

    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: not a JSON list nor JSONL ({err.msg})") from None
        if rows and all(isinstance(row, dict) and "id" not in row for row in rows):
            for n, row in enumerate(rows):
                for field in FIELDS:
                    if not isinstance(row.get(field, ""), str):
                        raise UserError(f"{path}: item {n}: {field!r} is not a string")
            return [{"id": f"alpaca-{n}", **row} for n, row in enumerate(rows)]
    return read_items(path)
