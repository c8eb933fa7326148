"""The import backend: an existing translated Alpaca (JSON list or JSONL) matched to ours by id."""

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
    for row in read_items(path):
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
