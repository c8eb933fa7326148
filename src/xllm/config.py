"""Config checks that stop a run before any job starts, with one line naming the key and value.

The JSON schema (workflow/schemas/config.schema.yaml) is the one source of defaults and types:
``prepare`` fills its defaults into the config (so no rule needs ``.get(key, default)``), then
catches unknown keys and wrong types; the checks here are the ones a schema cannot express
(known languages, budgets within the maxima, recipes that exist and fit where they are used,
metrics that are evaluated).
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from . import languages
from .errors import UserError


def _path(error) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".") or "(top level)"


def load_schema(schema_path: str | Path) -> dict:
    return yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))


def fill_defaults(config: dict, schema: dict) -> dict:
    """Set every absent key that has a schema default, in nested objects too (``generate: {}``)."""
    for key, spec in schema.get("properties", {}).items():
        if not isinstance(config, dict):
            break
        if key not in config and "default" in spec:
            config[key] = copy.deepcopy(spec["default"])
        if (
            key not in config
            and spec.get("type") == "object"
            and any("default" in sub for sub in spec.get("properties", {}).values())
        ):
            config[key] = {}
        if isinstance(config.get(key), dict) and "properties" in spec:
            fill_defaults(config[key], spec)
    return config


def load_yaml(path: str | Path) -> dict:
    """A config file; a syntax error is one line with the file, line and column."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such config file") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        raise UserError(f"{path}:{mark.line + 1}:{mark.column + 1}: not valid YAML ({err.problem})") from None
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: a config file is a mapping of keys to values")
    return doc


def schema_errors(config: dict, schema_path: str | Path) -> list[str]:
    """Every schema violation as 'key: message', deepest first."""
    import jsonschema

    schema = load_schema(schema_path)
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
            lines.append(
                f"languages: unknown language {code!r} "
                f"(add it to custom_languages or use one of {', '.join(sorted(table))})"
            )
        elif code not in config["max_pairs"]:
            lines.append(f"max_pairs: no entry for language {code!r}")
    total = sum(config["max_pairs"].get(code, 0) for code in config["languages"])
    for name, budget in config["budgets"].items():
        if budget > total:
            lines.append(f"budgets.{name}: {budget} pairs is over the sum of max_pairs of the languages ({total})")
    lines += _recipe_errors(config)
    demo = config.get("demo") or {}
    if demo:  # the demo generates data for its languages; a run may use a subset of them
        for code in config["languages"]:
            if code not in demo.get("languages", {}):
                lines.append(f"languages: {code!r} has no demo.languages entry to generate it from")
        trained, asked = demo.get("qa_prompts", "authors"), config["generate"].get("qa_prompts", "authors")
        if trained != asked:
            lines.append(
                f"generate.qa_prompts: {asked!r}, but the demo's QA training items are worded with "
                f"demo.qa_prompts {trained!r}"
            )
    numeric = [s for s in config["scales"] if s != "full"]
    if len(config["scales"]) < 3:
        lines.append(f"scales: a scaling law needs at least 3 scales (value: {config['scales']!r})")
    for code in config["languages"]:
        cap = config["max_pairs"].get(code)
        for scale in numeric:
            if cap is not None and scale > cap:
                lines.append(f"scales: {scale} is over max_pairs.{code} ({cap})")
    lines += _evaluation_errors(config)
    muit = config.get("muit_scale", "full")
    if config["mixture"].get("m_recipes") and muit != "full":
        for code in config["languages"]:
            cap = config["max_pairs"].get(code)
            if cap is not None and muit > cap:
                lines.append(f"muit_scale: {muit} is over max_pairs.{code} ({cap})")
    return lines


def _recipe_errors(config: dict) -> list[str]:
    """Every recipe named exists and has the scope of the list that names it."""
    from .mixture.recipes import load_recipes

    mixture = config["mixture"]
    try:
        recipes = load_recipes(mixture["recipes"])
    except UserError as err:
        return [f"mixture.recipes: {err}"]
    lines = []
    scopes = {
        "x_recipes": "x",
        "m_recipes": "m",
        "baselines": "baseline",
        "budget_recipes": "budget",
        "ablations": "ablation",
    }
    for key, scope in scopes.items():
        for name in mixture.get(key, []):
            if name not in recipes:
                lines.append(f"mixture.{key}: unknown recipe {name!r} (not in {mixture['recipes']})")
            elif recipes[name].scope != scope:
                lines.append(f"mixture.{key}: recipe {name!r} has scope {recipes[name].scope!r}, not {scope!r}")
    if mixture.get("ablations") and mixture.get("ablation_lang") not in config["languages"]:
        lines.append(f"mixture.ablation_lang: {mixture.get('ablation_lang')!r} is not one of the languages")
    if config["budgets"] and not mixture.get("budget_recipes"):
        lines.append("mixture.budget_recipes: budgets are configured but no recipe trains them")
    if config["budgets"] and not mixture.get("x_recipes"):
        lines.append("mixture.x_recipes: budgets need scaling laws, fitted on the first x-recipe's models")
    for name in mixture.get("x_recipes", []):
        if name in recipes and any(p.kind == "monolingual" for r in _with_bases(recipes, name) for p in r.parts):
            missing = [c for c in config["languages"] if c not in mixture.get("monolingual", {})]
            if missing:
                lines.append(f"mixture.monolingual: no text file for {', '.join(missing)} (needed by {name})")
    known = set(mixture.get("m_recipes", [])) | set(mixture.get("baselines", []))
    for name in config["scaling"].get("alignment_models", []):
        if name not in known:
            lines.append(
                f"scaling.alignment_models: {name!r} is not one of the configured m_recipes or baselines "
                f"({', '.join(sorted(known)) or 'none'})"
            )
    return lines


def _with_bases(recipes: dict, name: str) -> list:
    chain = []
    while name is not None and name in recipes and recipes[name] not in chain:
        chain.append(recipes[name])
        name = recipes[name].base
    return chain


def _evaluation_errors(config: dict) -> list[str]:
    """What the scaling laws read must be produced: the task evaluated, the metric computed."""
    ev, scaling = config["eval"], config["scaling"]
    lines = []
    if scaling["task"] not in ev["tasks"]:
        lines.append(f"scaling.task: {scaling['task']!r} is not one of eval.tasks ({', '.join(ev['tasks'])})")
    if scaling["metric"] not in ev["mt_metrics"]:
        lines.append(
            f"scaling.metric: {scaling['metric']!r} is not one of eval.mt_metrics ({', '.join(ev['mt_metrics'])})"
        )
    for metric, keys in (("comet", ("comet_model",)), ("bleurt", ("bleurt_model",)), ("spbleu", ("spm_model",))):
        for key in keys:
            if metric in ev["mt_metrics"] and not ev.get(key):
                lines.append(f"eval.{key}: needed by the {metric} metric in eval.mt_metrics")
    if ev.get("judge") and not {"xquad", "mlqa"} & set(ev["tasks"]):
        lines.append("eval.judge: judges QA answers, but eval.tasks has neither xquad nor mlqa")
    if "mlqa" in ev["tasks"] and not ev["mlqa_settings"]:
        lines.append("eval.mlqa_settings: the mlqa task needs at least one setting (e.g. en-ar)")
    return lines


def prepare(config: dict, schema_path: str | Path) -> dict:
    """Fill the schema's defaults into ``config`` and check it; the first problem is a UserError."""
    fill_defaults(config, load_schema(schema_path))
    check(config, schema_path)
    use_authors_bundle(config)
    return config


def bundle_alpaca(bundle: str, lang: str) -> str:
    return str(Path(bundle) / "alpaca" / f"alpaca_{lang}.json")


def bundle_pairs(bundle: str, lang: str) -> str:
    """The English side of the authors' pairs; ``train.{lang}`` lies beside it."""
    return str(Path(bundle) / "translation" / "ncwm" / f"en-{lang}" / "train.en")


def bundle_mieval(bundle: str, lang: str) -> str:
    return str(Path(bundle) / "mieval" / f"{lang}.jsonl")


def use_authors_bundle(config: dict) -> None:
    """``data.authors_bundle``: Alpaca-X comes from the bundle through the import backend (an
    entry of ``translate.import_files`` wins over the bundle's file)."""
    bundle = config["data"].get("authors_bundle")
    if not bundle:
        return
    if not Path(bundle).is_dir():
        raise UserError(f"config: data.authors_bundle: {bundle}: no such directory")
    translate = config["translate"]
    translate["backend"] = "import"
    files = translate.setdefault("import_files", {})
    for lang in config["languages"]:
        files.setdefault(lang, bundle_alpaca(bundle, lang))


def check(config: dict, schema_path: str | Path) -> None:
    """Raise UserError with the first problem (one line) if the config is not valid."""
    lines = schema_errors(config, schema_path)
    if not lines:
        lines = semantic_errors(config)
    if lines:
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise UserError(f"config: {lines[0]}{more}")
