"""What each job's output depends on: the slice of the config a rule passes as its params.

Snakemake reruns a job when its params change, so a job that carries only the settings that
determine its output is rerun exactly when one of them changes: adding a budget retrains no
x-model, a new bootstrap count re-scores nothing. One function per rule that has settings; each
returns plain JSON-able values, and the rules pass them with ``settings_json``.
"""

from __future__ import annotations

import json

from ..args import output_settings
from ..config import bundle_pairs
from ..mixture.recipes import parse_model_id
from .grid import Grid


def settings_json(values: dict) -> str:
    """Canonical JSON (sorted keys), so equal settings give equal params whatever the YAML order."""
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def train_launch(config: dict) -> dict:
    """How training runs, the value of ``$XLLM_TRAIN_LAUNCH`` for ``xllm launch-train``: nodes, GPUs,
    the accelerate config, and the train section's runtime settings (checkpointing, gradient
    checkpointing, shard size...). None of it changes the model, so it is no param of the job."""
    from ..args import runtime_settings
    from ..train.loop import TrainConfig

    train = config["train"]
    return {
        **{k: train[k] for k in ("nodes", "gpus_per_node", "accelerate_config")},
        "train": runtime_settings(TrainConfig, train),
    }


class Jobs:
    """Per-rule settings of a grid. ``local_or_hub`` maps a model name to where the workflow keeps it."""

    def __init__(self, grid: Grid, sources: dict, local_or_hub=lambda name: name):
        self.grid = grid
        self.config = grid.config
        self.sources = sources
        self.local_or_hub = local_or_hub

    # ------------------------------------------------------------ data

    def download_file(self, file: str) -> dict:
        src = self.sources[file]
        return {"url": src.url, "sha256": src.sha256, "format": src.format}

    def prepare_corpus(self, lang: str) -> dict:
        data = self.config["data"]
        settings = {
            "min_margin": data["wikimatrix_min_margin"],
            "max_chars": data["max_chars"],
            "max_ratio": data["max_length_ratio"],
        }
        if data["authors_bundle"]:  # the authors' pairs replace the downloaded corpora
            return {**settings, "line_aligned": {"ncwm": bundle_pairs(data["authors_bundle"], lang)}}
        return {
            **settings,
            "sources": {
                name: [s.corpus, s.format, s.langs]
                for name, s in sorted(self.sources.items())
                if s.corpus in data["corpora"] and lang in s.langs
            },
        }

    def translate_alpaca(self, lang: str) -> dict:
        t = self.config["translate"]
        keys = {"demo": (), "hf-seq2seq": ("model", "batch_size", "beam_size", "max_length"), "import": ()}
        out = {"backend": t["backend"], "shards": t["shards"], **{k: t.get(k) for k in keys[t["backend"]]}}
        if t["backend"] == "import":
            out["import_file"] = t["import_files"].get(lang)
        return out

    # ------------------------------------------------------------ mixtures and training

    def build_mixture(self, model: str) -> dict:
        plan = self.grid.mixture_plan(model)
        recipe = self.grid.recipes[parse_model_id(model).recipe]
        mix = self.config["mixture"]
        translates = any(p.kind == "translation" for p in recipe.parts)
        return {
            "recipe": recipe.definition(),
            "langs": plan["langs"],
            "alloc": plan["alloc"],
            "lang_names": self.grid.lang_names(plan["langs"]),
            "seed": self.config["seed"],
            # only a recipe with translation pairs words them with the instructions
            "templates": self.grid.translation_templates() if translates else [],
            "instruction_choice": mix["instruction_choice"] if translates else None,
        }

    def tokenize_mixture(self, model: str) -> dict:
        from ..train.tokenize import TokenizeConfig

        return output_settings(TokenizeConfig, self.config["train"])

    def train_model(self, model: str) -> dict:
        from ..train.loop import TrainConfig

        train = self.config["train"]
        # The job runs with the rule's fixed thread count, so CPU results do not depend on --cores.
        section = {**train, "threads": train["cpus_per_task"], "seed": self.config["seed"]}
        return output_settings(TrainConfig, section)

    # ------------------------------------------------------------ evaluation

    def generate_model(self, model: str) -> dict:
        from ..generate.engine import Settings
        from ..generate.run import RunOptions

        gen = self.config["generate"]
        section = {**gen, "seed": self.config["seed"], "lang_names": self.grid.lang_names(self.grid.model_langs(model))}
        return {**output_settings(Settings, section), **output_settings(RunOptions, section)}

    def score_model(self, model: str | None = None) -> dict:
        from ..metrics.score import ScoreConfig

        ev = self.config["eval"]
        out = output_settings(ScoreConfig, ev)
        for metric, keys in (
            ("comet", ("comet_model", "comet_encoder")),
            ("bleurt", ("bleurt_model",)),
            ("spbleu", ("spm_model",)),
        ):
            if metric in ev["mt_metrics"]:
                out.update({k: self.local_or_hub(ev[k]) for k in keys if ev.get(k)})
        return out

    def judge_model(self, model: str | None = None) -> dict:
        """What a judged score depends on: the endpoint, the judge model and how many questions
        (not the key's variable nor the timeout, which change how the job runs)."""
        judge = self.config["eval"]["judge"]
        return {k: judge[k] for k in ("endpoint", "model", "limit")} if judge else {}

    def judge_mieval(self, lang: str) -> dict:
        """MI-Eval's pairwise verdicts: the judge (endpoint, model) and the two models compared."""
        judge = self.config["eval"]["judge"] or {}
        return {"endpoint": judge.get("endpoint"), "model": judge.get("model"), "pair": self.grid.mieval_pair(lang)}

    def metric_model_inputs(self) -> list[str]:
        """The metric model files and directories scoring reads: inputs of score_model."""
        return sorted(v for k, v in self.score_model().items() if k.endswith("_model") or k == "comet_encoder")
