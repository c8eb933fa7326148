"""Recipes are data: each names its parts (Alpaca in some language, translation pairs, raw text).

A recipe's ``scope`` decides the shape of its models' ids, whatever the recipe is called:

    baseline  RECIPE                    (alpaca-en)
    x         RECIPE/LANG/SCALE         (coit/ar/10000, cpt/zh/full)
    m         RECIPE/SCALE              (muit/full)
    budget    RECIPE/BUDGET/ALLOC       (muit-budget/1.2M/optimized; ALLOC: uniform | optimized)
    ablation  ablation/LANG/RECIPE      (ablation/zh/abl-en-x)

``parse_model_id`` reads an id by its shape alone (scores, tables and plots have no recipes at
hand); given the recipes it also checks that the shape is the recipe's scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import UserError

PART_KINDS = ("alpaca", "translation", "monolingual")
SCOPES = ("baseline", "x", "m", "budget", "ablation")
ALLOCS = ("uniform", "optimized")


@dataclass(frozen=True)
class Part:
    kind: str  # alpaca | translation | monolingual
    lang: str = "en"  # en | x | all (alpaca, monolingual)
    direction: str = "en-x"  # en-x | x-en (translation)
    size: int | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    scope: str  # one of SCOPES
    parts: tuple[Part, ...]
    description: str = ""
    base: str | None = None  # a recipe whose model (same language and scale) this one starts from

    def definition(self) -> dict:
        """What determines a mixture built from this recipe (its description does not)."""
        return {
            "scope": self.scope,
            "base": self.base,
            "parts": [{"kind": p.kind, "lang": p.lang, "direction": p.direction, "size": p.size} for p in self.parts],
        }


def load_recipes(path: str | Path) -> dict[str, Recipe]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UserError(f"{path}: no such recipes file") from None
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    recipes = {}
    for name, body in raw.items():
        parts = []
        for i, part in enumerate(body.get("parts", [])):
            if len(part) != 1 or next(iter(part)) not in PART_KINDS:
                raise UserError(f"{path}: {name}.parts[{i}]: expected one of {', '.join(PART_KINDS)}")
            kind, opts = next(iter(part.items()))
            opts = dict(opts or {})
            parts.append(Part(kind, opts.get("lang", "en"), opts.get("direction", "en-x"), opts.get("size")))
        scope = body.get("scope", "x")
        if scope not in SCOPES:
            raise UserError(f"{path}: {name}.scope: {scope!r} is not one of {', '.join(SCOPES)}")
        if name == "ablation":
            raise UserError(f"{path}: 'ablation' is reserved for ablation model ids; rename the recipe")
        recipes[name] = Recipe(name, scope, tuple(parts), body.get("description", ""), body.get("base"))
    for recipe in recipes.values():
        if recipe.base is not None and recipe.base not in recipes:
            raise UserError(f"{path}: {recipe.name}.base: unknown recipe {recipe.base!r}")
    return recipes


@dataclass(frozen=True)
class ModelId:
    model: str
    recipe: str
    lang: str = ""  # the target language of an x-model, "" for multilingual models
    scale: str = ""
    budget: str = ""
    alloc: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def scope(self) -> str:
        if self.budget:
            return "budget"
        if self.model.startswith("ablation/"):
            return "ablation"
        if self.lang:
            return "x"
        return "m" if self.scale else "baseline"

    def columns(self) -> dict[str, str]:
        return {
            "model": self.model,
            "recipe": self.recipe,
            "lang": self.lang,
            "scale": self.scale,
            "budget": self.budget,
            "alloc": self.alloc,
        }


def model_id(recipe: Recipe, lang: str = "", scale: str = "", budget: str = "", alloc: str = "") -> str:
    """The id of a recipe's model: the inverse of ``parse_model_id``."""
    parts = {
        "baseline": [recipe.name],
        "x": [recipe.name, lang, scale],
        "m": [recipe.name, scale],
        "budget": [recipe.name, budget, alloc],
        "ablation": ["ablation", lang, recipe.name],
    }[recipe.scope]
    if any(not p for p in parts):
        raise UserError(f"recipe {recipe.name!r} ({recipe.scope} scope) needs {', '.join(parts)}")
    return "/".join(str(p) for p in parts)


def parse_model_id(model: str, recipes: dict[str, Recipe] | None = None) -> ModelId:
    parts = model.split("/")
    if parts[0] == "ablation" and len(parts) == 3:
        meta = ModelId(model, parts[2], lang=parts[1])
    elif len(parts) == 3 and parts[2] in ALLOCS:
        meta = ModelId(model, parts[0], budget=parts[1], alloc=parts[2])
    elif len(parts) == 3:
        meta = ModelId(model, parts[0], lang=parts[1], scale=parts[2])
    elif len(parts) == 2:
        meta = ModelId(model, parts[0], scale=parts[1])
    elif len(parts) == 1 and parts[0]:
        meta = ModelId(model, parts[0])
    else:
        meta = None
    if meta is not None and meta.scale and not re.fullmatch(r"[0-9]+|full", meta.scale):
        meta = None
    if meta is None or not all(parts):
        raise UserError(
            f"model id {model!r} does not match RECIPE, RECIPE/LANG/SCALE, RECIPE/SCALE, "
            f"RECIPE/BUDGET/{'|'.join(ALLOCS).upper()} or ablation/LANG/RECIPE"
        )
    if recipes is not None:
        if meta.recipe not in recipes:
            raise UserError(f"model id {model!r}: unknown recipe {meta.recipe!r}")
        if recipes[meta.recipe].scope != meta.scope:
            raise UserError(
                f"model id {model!r}: recipe {meta.recipe!r} has scope "
                f"{recipes[meta.recipe].scope}, but the id has the shape of a {meta.scope} model"
            )
    return meta
