"""Recipes are data: each names its parts (Alpaca in some language, translation pairs, raw text).

Model ids tie a recipe to its data: ``alpaca-en``, ``coit/{lang}/{scale}``, ``muit/{scale}``,
``muit-budget/{budget}/{alloc}``, ``ablation/{recipe}``. ``parse_model_id`` is the one place that
knows this layout (rules, scoring and tables all use it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import UserError

PART_KINDS = ("alpaca", "translation", "monolingual")


@dataclass(frozen=True)
class Part:
    kind: str  # alpaca | translation | monolingual
    lang: str = "en"  # en | x | all (alpaca, monolingual)
    direction: str = "en-x"  # en-x | x-en (translation)
    size: int | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    scope: str  # baseline | x | m | budget | ablation
    parts: tuple[Part, ...]
    description: str = ""
    base: str | None = None  # a recipe whose model (same language and scale) this one starts from


def load_recipes(path: str | Path) -> dict[str, Recipe]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    recipes = {}
    for name, body in raw.items():
        parts = []
        for i, part in enumerate(body.get("parts", [])):
            if len(part) != 1 or next(iter(part)) not in PART_KINDS:
                raise UserError(f"{path}: {name}.parts[{i}]: expected one of {', '.join(PART_KINDS)}")
            kind, opts = next(iter(part.items()))
            opts = dict(opts or {})
            parts.append(Part(kind, opts.get("lang", "en"), opts.get("direction", "en-x"), opts.get("size")))
        recipes[name] = Recipe(name, body.get("scope", "x"), tuple(parts), body.get("description", ""),
                               body.get("base"))
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

    def columns(self) -> dict[str, str]:
        return {"model": self.model, "recipe": self.recipe, "lang": self.lang, "scale": self.scale,
                "budget": self.budget, "alloc": self.alloc}


def parse_model_id(model: str) -> ModelId:
    parts = model.split("/")
    head = parts[0]
    if head not in ("muit-budget", "ablation") and len(parts) == 3:  # coit, cpt, ...: RECIPE/LANG/SCALE
        return ModelId(model, head, lang=parts[1], scale=parts[2])
    if head == "muit" and len(parts) == 2:
        return ModelId(model, "muit", scale=parts[1])
    if head == "muit-budget" and len(parts) == 3:
        return ModelId(model, "muit-budget", budget=parts[1], alloc=parts[2])
    if head == "ablation" and len(parts) == 3:
        return ModelId(model, parts[2], lang=parts[1])
    if len(parts) == 1:
        return ModelId(model, head)
    raise UserError(f"model id {model!r} does not match alpaca-en, RECIPE/LANG/SCALE (coit, cpt), muit/SCALE, "
                    "muit-budget/BUDGET/ALLOC or ablation/LANG/RECIPE")
