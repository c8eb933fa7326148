"""The experiment grid a config describes: its models, their mixtures and their test plans.

The workflow's input functions call this (``workflow/rules/common.smk``), and so do the tests and
``xllm estimate``; it imports nothing heavy, since Snakemake evaluates it for every job.
"""

from __future__ import annotations

import os

from .. import languages
from ..mixture.recipes import Recipe, load_recipes, model_id, parse_model_id

SPLIT_DEFAULT = "devtest"


class Grid:
    """A validated config (defaults filled in by the schema) as models and per-model plans."""

    def __init__(self, config: dict, recipes: dict[str, Recipe] | None = None):
        self.config = config
        self.mix = config["mixture"]
        self.recipes = recipes if recipes is not None else load_recipes(self.mix["recipes"])
        self.langs = list(config["languages"])
        self.scales = [str(s) for s in config["scales"]]
        self.budgets = dict(config["budgets"])
        self.allocs = list(config["allocations"])
        self.muit_scale = str(config["muit_scale"])
        self.tasks = list(config["eval"]["tasks"])
        self.lang_table = languages.registry(config.get("custom_languages"))

    # ------------------------------------------------------------ models

    def x_models(self, lang: str | None = None) -> list[str]:
        return [
            model_id(self.recipes[r], lang=code, scale=scale)
            for r in self.mix["x_recipes"]
            for code in ([lang] if lang else self.langs)
            for scale in self.scales
        ]

    def m_models(self) -> list[str]:
        return [model_id(self.recipes[r], scale=self.muit_scale) for r in self.mix["m_recipes"]]

    def budget_models(self) -> list[str]:
        return [
            model_id(self.recipes[r], budget=b, alloc=a)
            for r in self.mix["budget_recipes"]
            for b in self.budgets
            for a in self.allocs
        ]

    def ablation_models(self) -> list[str]:
        return [model_id(self.recipes[r], lang=self.mix["ablation_lang"]) for r in self.mix["ablations"]]

    def baseline_models(self) -> list[str]:
        return [model_id(self.recipes[r]) for r in self.mix["baselines"]]

    def all_models(self) -> list[str]:
        return (
            self.baseline_models() + self.x_models() + self.m_models() + self.budget_models() + self.ablation_models()
        )

    def scaling_models(self, lang: str) -> list[str]:
        """The models whose scores a language's scaling law is fitted to: the first x-recipe's."""
        first = self.mix["x_recipes"][:1]
        return [model_id(self.recipes[r], lang=lang, scale=s) for r in first for s in self.scales]

    def recipe_model(self, name: str) -> str:
        """The model of a recipe named in scaling.alignment_models (a model id passes through)."""
        recipe = self.recipes.get(name)
        if recipe is not None and recipe.scope == "m":
            return model_id(recipe, scale=self.muit_scale)
        if recipe is not None and recipe.scope == "baseline":
            return model_id(recipe)
        return name

    def model_langs(self, model: str) -> list[str]:
        """The target languages a model is trained on and evaluated in."""
        meta = parse_model_id(model, self.recipes)
        return [meta.lang] if meta.lang else list(self.langs)

    def translation_templates(self) -> list[str]:
        """The translation instruction templates of the mixtures (``mixture.translation_instructions``)."""
        from ..prompts import translation_templates

        return translation_templates(self.mix["translation_instructions"])

    def lang_names(self, langs: list[str]) -> dict[str, str]:
        """English names of English and ``langs``, as prompts spell them."""
        return {code: self.lang_table[code].name for code in ["en", *langs]}

    # ------------------------------------------------------------ per-model plans

    def mixture_plan(self, model: str) -> dict:
        """What build_mixture needs for a model: languages, Alpaca files, pair files, allocation."""
        meta = parse_model_id(model, self.recipes)
        recipe = self.recipes[meta.recipe]
        # A recipe of English Alpaca alone does not change with the configured languages.
        uses_langs = any(p.kind != "alpaca" or p.lang != "en" for p in recipe.parts)
        langs = self.model_langs(model) if uses_langs else []
        scale = meta.scale or "full"
        alpaca, pairs, mono, allocation = {}, {}, {}, None
        for part in recipe.parts:
            if part.kind == "monolingual":
                mono.update({code: f"results/monolingual/{code}/scale-{scale}.jsonl" for code in langs})
            elif part.kind == "alpaca":
                for code in ["en"] if part.lang == "en" else langs:
                    alpaca[code] = alpaca_file(code)
            elif part.kind == "translation":
                if meta.budget:  # the uniform split does not depend on the fits: its own file
                    allocation = (
                        f"results/allocation/{meta.budget}.json"
                        if meta.alloc == "optimized"
                        else f"results/allocation/{meta.budget}/uniform.json"
                    )
                pairs.update(
                    {code: f"results/corpora/{code}/scale-{'full' if meta.budget else scale}.jsonl" for code in langs}
                )
        return {
            "langs": langs,
            "alpaca": alpaca,
            "pairs": pairs,
            "monolingual": mono,
            "allocation": allocation,
            "alloc": meta.alloc,
        }

    def eval_plan(self, model: str) -> list[dict]:
        """Every (task, direction) a model is evaluated on, with its test files."""
        meta = parse_model_id(model, self.recipes)
        tasks = ["flores"] if meta.budget else self.tasks
        split = self.config["eval"]["flores_split"]
        plan = []
        for lang in self.model_langs(model):
            if "flores" in tasks:
                for src, tgt in (("en", lang), (lang, "en")):
                    plan.append(
                        {
                            "task": "flores",
                            "direction": f"{src}-{tgt}",
                            "src_lang": src,
                            "tgt_lang": tgt,
                            "lang": lang,
                            "source": f"results/testsets/flores/{split}/{src}.txt",
                            "reference": f"results/testsets/flores/{split}/{tgt}.txt",
                        }
                    )
            if "xquad" in tasks:
                plan.append(
                    {"task": "xquad", "direction": lang, "lang": lang, "testset": f"results/testsets/xquad/{lang}.json"}
                )
            if "mlqa" in tasks:
                for setting in self.config["eval"]["mlqa_settings"]:
                    if setting.split("-")[1] == lang:
                        plan.append(
                            {
                                "task": "mlqa",
                                "direction": setting,
                                "lang": lang,
                                "testset": f"results/testsets/mlqa/{setting}.json",
                            }
                        )
        return plan + self._english_qa_plan(meta, tasks) + self._mieval_plan(model)

    def _english_qa_plan(self, meta, tasks: list[str]) -> list[dict]:
        """English QA (Tables 2 and 6's en column) with ``eval.english_qa``, for every model but one
        language's x-models (they would share a row and an en column in the tables, and multiply
        the jobs by languages x scales) and the budget models (FLORES only)."""
        ev = self.config["eval"]
        if not ev["english_qa"] or self.recipes[meta.recipe].scope in ("x", "budget"):
            return []
        plan = []
        if "xquad" in tasks:
            plan.append({"task": "xquad", "direction": "en", "lang": "en", "testset": "results/testsets/xquad/en.json"})
        if "mlqa" in tasks and "en-en" in ev["mlqa_settings"]:
            plan.append(
                {"task": "mlqa", "direction": "en-en", "lang": "en", "testset": "results/testsets/mlqa/en-en.json"}
            )
        return plan

    # ------------------------------------------------------------ MI-Eval (Figure 4, right)

    def mieval_langs(self) -> list[str]:
        """Languages with MI-Eval: the authors' bundle holds ``mieval/{lang}.jsonl``, the judge is
        configured, and there is an m-model and an x-model to compare (the only place the grid
        looks at files: the bundle is the user's, on this machine)."""
        from ..config import bundle_mieval

        bundle = self.config["data"]["authors_bundle"]
        if not (bundle and self.config["eval"]["judge"] and self.mix["m_recipes"] and self.mix["x_recipes"]):
            return []
        return [lang for lang in self.langs if os.path.isfile(bundle_mieval(bundle, lang))]

    def mieval_pair(self, lang: str) -> tuple[str, str]:
        """(x-model, m-model) compared on MI-Eval: the first m-recipe's model, and the first
        x-recipe's model of the language at the m-model's scale, else the largest scale."""
        scale = self.muit_scale if self.muit_scale in self.scales else self.scales[-1]
        x_model = model_id(self.recipes[self.mix["x_recipes"][0]], lang=lang, scale=scale)
        return x_model, self.m_models()[0]

    def _mieval_plan(self, model: str) -> list[dict]:
        return [
            {"task": "mieval", "direction": lang, "lang": lang, "prompts": f"results/testsets/mieval/{lang}.jsonl"}
            for lang in self.mieval_langs()
            if model in self.mieval_pair(lang)
        ]

    def judge_models(self) -> list[str]:
        """The models whose QA answers the judge reads (``eval.judge``): those with a QA test set."""
        if not self.config["eval"]["judge"]:
            return []
        return [m for m in self.all_models() if any("testset" in item for item in self.eval_plan(m))]

    def judge_files(self, model: str) -> list[str]:
        """The QA test sets of a model's plan (the judge reads their contexts and questions)."""
        return sorted({item["testset"] for item in self.eval_plan(model) if "testset" in item})

    def eval_files(self, model: str) -> list[str]:
        files = set()
        for item in self.eval_plan(model):
            files.update(item[k] for k in ("source", "reference", "testset", "prompts") if k in item)
        return sorted(files)


def alpaca_file(lang: str) -> str:
    return "results/alpaca/en.json" if lang == "en" else f"results/alpaca/translated/{lang}.json"
