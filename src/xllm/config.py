"""Config checks that stop a run before any job starts, with one line naming the key and value.

The JSON schema (workflow/schemas/config.schema.yaml) catches unknown keys and wrong types; the
checks here are the ones a schema cannot express (known languages, budgets within the maxima,
recipes that exist).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from . import languages
from .errors import UserError


def _path(error) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".") or "(top level)"


def schema_errors(config: dict, schema_path: str | Path) -> list[str]:
    """Every schema violation as 'key: message', deepest first."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for error in sorted(validator.iter_errors(config), key=lambda e: -len(e.absolute_path)):
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            where = _path(error)
            for key in extra:
                lines.append(f"{key if where == '(top level)' else where + '.' + key}: unknown key")
            continue
        if error.validator == "oneOf" and error.context:
            # The branch that matched the value's type says what is wrong with it.
            typed = [e for e in error.context if e.validator not in ("type", "const")]
            detail = (typed or error.context)[0].message
        else:
            detail = error.message
        lines.append(f"{_path(error)}: {detail} (value: {error.instance!r})")
    return lines


def semantic_errors(config: dict) -> list[str]:
    lines = []
    try:
        table = languages.registry(config.get("custom_languages"))
    except UserError as err:
        return [str(err)]
    for code in config["languages"]:
        if code not in table:
            lines.append(f"languages: unknown language {code!r} "
                         f"(add it to custom_languages or use one of {', '.join(sorted(table))})")
        elif code not in config["max_pairs"]:
            lines.append(f"max_pairs: no entry for language {code!r}")
    total = sum(config["max_pairs"].get(code, 0) for code in config["languages"])
    for name, budget in config["budgets"].items():
        if budget > total:
            lines.append(f"budgets.{name}: {budget} pairs is over the sum of max_pairs of the languages ({total})")
    recipes_path = Path(config["mixture"]["recipes"])
    if recipes_path.exists():
        recipes = yaml.safe_load(recipes_path.read_text(encoding="utf-8")) or {}
        mixture = config["mixture"]
        for key in ("x_recipes", "m_recipes", "baselines", "ablations"):
            for name in mixture.get(key, []):
                if name not in recipes:
                    lines.append(f"mixture.{key}: unknown recipe {name!r} (not in {recipes_path})")
        if mixture.get("ablations") and mixture.get("ablation_lang") not in config["languages"]:
            lines.append(f"mixture.ablation_lang: {mixture.get('ablation_lang')!r} is not one of the languages")
    else:
        lines.append(f"mixture.recipes: no such file {str(recipes_path)!r}")
    demo = config.get("demo") or {}
    if demo:  # the demo generates data for its languages; a run may use a subset of them
        for code in config["languages"]:
            if code not in demo.get("languages", {}):
                lines.append(f"languages: {code!r} has no demo.languages entry to generate it from")
    numeric = [s for s in config["scales"] if s != "full"]
    if len(config["scales"]) < 3:
        lines.append(f"scales: a scaling law needs at least 3 scales (value: {config['scales']!r})")
    for code in config["languages"]:
        cap = config["max_pairs"].get(code)
        for scale in numeric:
            if cap is not None and scale > cap:
                lines.append(f"scales: {scale} is over max_pairs.{code} ({cap})")
    return lines


def check(config: dict, schema_path: str | Path) -> None:
    """Raise UserError with the first problem (one line) if the config is not valid."""
    lines = schema_errors(config, schema_path)
    if not lines:
        lines = semantic_errors(config)
    if lines:
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise UserError(f"config: {lines[0]}{more}")
