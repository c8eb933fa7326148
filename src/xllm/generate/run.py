"""One model over a plan of test sets: prompts, batched generation, resumable staging, outputs.

Progress lives in a staging directory outside the output directory, because Snakemake deletes a
job's output directory before rerunning it. Each finished batch is appended to the item's
``.partial.jsonl``; a finished item is renamed to ``TASK/DIRECTION.jsonl``. Staging is keyed by a
fingerprint of the model files and the settings, so a retrained model never reuses old
predictions. At the end the finished files move into the output directory in one rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..args import setting
from ..atomic import atomic_dir, read_json, read_jsonl, write_json, write_jsonl
from ..errors import UserError
from ..languages import get as get_language
from ..prompts import format_prompt, prompt_style
from ..provenance import provenance
from .engine import Settings, Stats, generate_texts, load_model, resolve_device
from .tasks import load_examples

FINGERPRINT = "fingerprint.json"
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # task and direction become file names
SUMMARY = "generation.json"


def load_plan(path: str | Path) -> list[dict]:
    plan = read_json(path, "plan items", list)
    if not all(isinstance(item, dict) for item in plan):
        raise UserError(f"{path}: expected a list of plan items (objects)")
    for index, item in enumerate(plan):
        for key in ("task", "direction"):
            if not NAME.match(str(item.get(key, ""))):
                raise UserError(f"{path}: item {index}: {key} {item.get(key)!r} is not a plain name")
    keys = [(item.get("task"), item.get("direction")) for item in plan]
    dupes = sorted({f"{t}/{d}" for t, d in keys if keys.count((t, d)) > 1})
    if dupes:
        raise UserError(f"{path}: items occur twice: {', '.join(dupes)}")
    return plan


def _file_stamp(path: Path, root: Path | None = None) -> str:
    stat = path.stat()
    return f"{path.relative_to(root) if root else path}:{stat.st_size}:{stat.st_mtime_ns}\n"


def staging_fingerprint(model_dir: str | Path, settings: Settings, limit: int | None, plan: list[dict] = ()) -> str:
    """Hash of what the staged rows depend on: the model's files, the settings that change
    outputs, the plan and its test files (name, size, mtime)."""
    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).rglob("*")):
        if path.is_file():
            digest.update(_file_stamp(path, Path(model_dir)).encode())
    for item in plan:
        for key in ("source", "reference", "testset", "prompts"):
            if item.get(key) and Path(item[key]).is_file():
                digest.update(_file_stamp(Path(item[key])).encode())
    outputs = {k: v for k, v in settings.to_dict().items() if k not in ("batch_size", "backend", "bucket", "compile")}
    digest.update(json.dumps({"settings": outputs, "limit": limit, "plan": list(plan)}, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _prepare_staging(staging: Path, fingerprint: str) -> None:
    marker = staging / FINGERPRINT
    if staging.exists() and marker.exists():
        if json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fingerprint:
            return
    if staging.exists():
        shutil.rmtree(staging)  # another model or other settings: nothing in it is reusable
    staging.mkdir(parents=True)
    write_json(marker, {"fingerprint": fingerprint})


def _read_partial(path: Path) -> dict[str, dict]:
    """Rows already generated for an item; a line cut short by a kill is ignored."""
    rows = {}
    if not path.exists():
        return rows
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break
            rows[row["id"]] = row
    return rows


def _lang_namer(names: dict[str, str]):
    def name(code: str) -> str:
        return names.get(code) or get_language(code).name

    return name


@dataclass(frozen=True)
class RunOptions:
    """Settings of a generation job beyond decoding (``Settings``)."""

    limit: int | None = setting(None, help="only the first N examples of each item")
    threads: int | None = setting(None, help="CPU threads (default: 1 for small models)")
    lang_names: dict = setting(default_factory=dict, help="language code -> name used in prompts")
    device: str = setting("auto", runtime=True, help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    quiet: bool = setting(False, runtime=True, help="no progress bar")


def run_plan(
    model_dir: str,
    plan_path: str,
    out_dir: str,
    staging: str,
    settings: Settings,
    limit: int | None = None,
    device: str = "auto",
    lang_names: dict[str, str] | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> dict:
    """Generate every plan item with the model in ``model_dir``; returns the summary it writes."""
    import torch

    started = time.time()
    plan = load_plan(plan_path)
    out_dir, staging_dir = Path(out_dir), Path(staging)
    if staging_dir.resolve() == out_dir.resolve() or out_dir.resolve() in staging_dir.resolve().parents:
        raise UserError(f"--staging {staging}: must lie outside the output directory {out_dir}")
    if not Path(model_dir, "config.json").exists():
        raise UserError(f"--model {model_dir}: no config.json (not a model directory)")
    try:
        style = prompt_style(model_dir)
    except ValueError as err:
        raise UserError(str(err)) from None
    namer = _lang_namer(lang_names or {})

    items = []
    for index, item in enumerate(plan):
        examples = load_examples(item, namer, index, settings.qa_prompts)
        if limit is not None:
            examples = examples[:limit]
        items.append((item, examples))

    fingerprint = staging_fingerprint(model_dir, settings, limit, plan)
    _prepare_staging(staging_dir, fingerprint)
    todo = []
    for item, examples in items:
        final = staging_dir / item["task"] / f"{item['direction']}.jsonl"
        if not final.exists():
            done = _read_partial(final.with_suffix(".partial.jsonl"))
            todo.append((item, examples, final, done))
    remaining = sum(len(ex) - sum(e.id in done for e in ex) for _, ex, _, done in todo)

    stats = Stats()
    device = resolve_device(device)
    if todo:
        if threads:
            torch.set_num_threads(threads)
        model, tokenizer = load_model(model_dir, device)
        if device == "cpu" and not threads and sum(p.numel() for p in model.parameters()) < 100_000_000:
            torch.set_num_threads(1)  # small models: threads spin more than they help on shared cores
        from tqdm import tqdm

        bar = tqdm(
            total=remaining,
            desc=f"generate {Path(model_dir).name}",
            unit="ex",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
            mininterval=0.5 if sys.stderr.isatty() else 30,
        )
        for item, examples, final, done in todo:
            _generate_item(model, tokenizer, item, examples, final, done, style, settings, stats, bar)
        bar.close()

    summary = _finish(
        items,
        staging_dir,
        out_dir,
        model_dir,
        settings,
        limit,
        device,
        stats,
        style,
        fingerprint,
        time.time() - started,
    )
    shutil.rmtree(staging_dir, ignore_errors=True)
    return summary


def _generate_item(
    model, tokenizer, item, examples, final: Path, done: dict, style: str, settings: Settings, stats: Stats, bar
) -> None:
    partial = final.with_suffix(".partial.jsonl")
    partial.parent.mkdir(parents=True, exist_ok=True)
    pending = [e for e in examples if e.id not in done]
    prompts = [format_prompt(e.instruction, e.input, style) for e in pending]
    with open(partial, "a", encoding="utf-8") as handle:

        def save(indices, outputs):
            for i, output in zip(indices, outputs):
                example = pending[i]
                row = {
                    "id": example.id,
                    "prompt": prompts[i],
                    "prediction": output.prediction,
                    "n_prompt_tokens": output.n_prompt_tokens,
                    "n_new_tokens": output.n_new_tokens,
                    "reference": example.reference,
                    "stopped": output.stopped,
                    "truncated": output.truncated,
                }
                done[example.id] = row
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            bar.update(len(indices))

        if pending:
            generate_texts(model, tokenizer, prompts, settings, on_batch=save, stats=stats)
    rows = [done[e.id] for e in examples]  # file order, whatever order the batches ran in
    write_jsonl(final, rows)
    partial.unlink()


def _finish(
    items,
    staging_dir: Path,
    out_dir: Path,
    model_dir: str,
    settings: Settings,
    limit,
    device: str,
    stats: Stats,
    style: str,
    fingerprint: str,
    seconds: float,
) -> dict:
    counts = {}
    with atomic_dir(out_dir) as tmp:
        for item, _ in items:
            rel = Path(item["task"]) / f"{item['direction']}.jsonl"
            rows = read_jsonl(staging_dir / rel)
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staging_dir / rel), tmp / rel)
            counts[f"{item['task']}/{item['direction']}"] = {
                "n": len(rows),
                "n_new_tokens": sum(r["n_new_tokens"] for r in rows),
                "n_stopped": sum(bool(r.get("stopped")) for r in rows),
                "n_truncated_prompts": sum(bool(r.get("truncated")) for r in rows),
            }
        truncated: dict[str, int] = {}
        for name, c in counts.items():
            task = name.split("/")[0]
            truncated[task] = truncated.get(task, 0) + c["n_truncated_prompts"]
        if any(truncated.values()):
            cut = ", ".join(
                f"{k} {c['n_truncated_prompts']}/{c['n']}" for k, c in counts.items() if c["n_truncated_prompts"]
            )
            print(
                f"{model_dir}: prompts cut from the left to fit the context with {settings.max_new_tokens} new "
                f"tokens: {cut}",
                file=sys.stderr,
            )
        summary = {
            "model": str(model_dir),
            "prompt_style": style,
            "settings": settings.to_dict(),
            "limit": limit,
            "device": device,
            "items": counts,
            "n_examples": sum(c["n"] for c in counts.values()),
            # prompts cut from the left to leave max_new_tokens of room, per task: for the tables
            "truncated_prompts": truncated,
            "this_run": stats.to_dict(),  # what this invocation generated (less after a resume)
            "seconds": round(seconds, 2),
            "fingerprint": fingerprint,
            "provenance": provenance(seed=settings.seed),
        }
        write_json(tmp / SUMMARY, summary)
    return summary
