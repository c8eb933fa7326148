"""COMET and BLEURT from local checkpoints, with the hub offline; scores on a 0-100 scale.

Both truncate inputs longer than their encoder accepts; we count those segments and report the
count (``n_over_max_length``) instead of letting the cut pass silently. Loaded models are cached
per process so that one scoring job loads each checkpoint once.
"""

from __future__ import annotations

import contextlib
import os
import sys
from importlib import metadata
from pathlib import Path

from ..errors import UserError
from .scored import segment_mean

_CACHE: dict = {}


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available")
    return device


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def comet_checkpoint(path: str | Path) -> Path:
    """A COMET model directory (``checkpoints/model.ckpt`` + ``hparams.yaml``) or the .ckpt itself."""
    path = Path(path)
    ckpt = path / "checkpoints" / "model.ckpt" if path.is_dir() else path
    if not ckpt.is_file():
        raise UserError(f"{path}: no COMET checkpoint (expected checkpoints/model.ckpt in it)")
    if not (ckpt.parents[1] / "hparams.yaml").is_file():
        raise UserError(f"{ckpt.parents[1]}: COMET hparams.yaml is missing")
    return ckpt


def _encoder_on_disk(name: str) -> bool:
    """A local directory, or a hub id whose config is already in the local cache."""
    if not name:
        return False
    if Path(name).is_dir():
        return True
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


def load_comet(path: str | Path, encoder: str | None = None):
    """Load COMET offline; ``encoder`` overrides the checkpoint's ``pretrained_model`` (tokenizer
    and config of e.g. xlm-roberta-large) with a local directory."""
    key = ("comet", str(path), encoder)
    if key in _CACHE:
        return _CACHE[key]
    _offline()
    import yaml
    from comet.models import str2model

    ckpt = comet_checkpoint(path)
    hparams = yaml.safe_load((ckpt.parents[1] / "hparams.yaml").read_text(encoding="utf-8"))
    cls = str2model.get(hparams.get("class_identifier"))
    if cls is None:
        raise UserError(
            f"{ckpt.parents[1] / 'hparams.yaml'}: unknown COMET class_identifier {hparams.get('class_identifier')!r}"
        )
    kwargs = {"pretrained_model": encoder} if encoder else {}
    wanted = encoder or hparams.get("pretrained_model", "")
    if not _encoder_on_disk(wanted):
        raise UserError(
            f"{path}: COMET encoder {wanted!r} is not available offline (put its tokenizer and config "
            "in the Hugging Face cache, or pass --comet-encoder DIR)"
        )
    try:
        with contextlib.redirect_stdout(sys.stderr):
            import torch

            model = cls.load_from_checkpoint(
                ckpt,
                load_pretrained_weights=False,
                map_location=torch.device("cpu"),
                strict=False,
                local_files_only=True,
                **kwargs,
            )
    except OSError as err:
        raise UserError(f"{path}: cannot load COMET offline: {str(err).splitlines()[0]}") from None
    model.eval()
    _CACHE[key] = model
    return model


def comet_score(
    hyps, refs, srcs, model_path, *, batch_size: int = 64, device: str = "auto", encoder: str | None = None
):
    if srcs is None:
        raise UserError("comet needs the source sentences (--src, or the plan's source file)")
    model = load_comet(model_path, encoder)
    device = resolve_device(device)
    tokenizer = model.encoder.tokenizer
    limit = model.encoder.max_positions - 2  # what COMET's prepare_sample truncates to
    samples = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(srcs, hyps, refs)]
    over = 0
    for text_fields in zip(srcs, hyps, refs):
        lengths = [len(ids) for ids in tokenizer(list(text_fields))["input_ids"]]
        over += any(n > limit for n in lengths)
    with contextlib.redirect_stdout(sys.stderr):
        cuda = device.startswith("cuda")
        out = model.predict(
            samples,
            batch_size=batch_size,
            gpus=1 if cuda else 0,
            devices=[int(device.split(":")[1])] if cuda and ":" in device else None,
            progress_bar=False,
            num_workers=0,
        )
    name = Path(model_path).name or str(model_path)
    signature = f"comet|model:{name}|version:{_version('unbabel-comet')}|scale:100"
    return segment_mean("comet", out.scores, signature, scale=100.0, n_over_max_length=over, max_length=limit)


def load_bleurt(path: str | Path):
    key = ("bleurt", str(path))
    if key in _CACHE:
        return _CACHE[key]
    _offline()
    if not (Path(path) / "config.json").is_file():
        raise UserError(f"{path}: no BLEURT model (expected config.json, weights and tokenizer files)")
    from bleurt_pytorch import BleurtForSequenceClassification, BleurtTokenizer

    model = BleurtForSequenceClassification.from_pretrained(str(path), local_files_only=True)
    tokenizer = BleurtTokenizer.from_pretrained(str(path), local_files_only=True)
    model.eval()
    _CACHE[key] = (model, tokenizer)
    return model, tokenizer


def bleurt_score(hyps, refs, model_path, *, batch_size: int = 64, device: str = "auto"):
    import torch

    model, tokenizer = load_bleurt(model_path)
    device = resolve_device(device)
    model.to(device)
    limit = int(model.config.max_position_embeddings)
    lengths = [len(tokenizer(r, h)["input_ids"]) for r, h in zip(refs, hyps)]
    over = sum(n > limit for n in lengths)
    order = sorted(range(len(hyps)), key=lambda i: lengths[i])  # length-sorted batches pad less
    scores = [0.0] * len(hyps)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer(
                [refs[i] for i in idx],
                [hyps[i] for i in idx],
                padding="longest",
                truncation=True,
                max_length=limit,
                return_tensors="pt",
            ).to(device)
            logits = model(**batch).logits.flatten().float().cpu().tolist()
            for i, value in zip(idx, logits):
                scores[i] = value
    name = Path(model_path).name or str(model_path)
    signature = f"bleurt|model:{name}|version:{_version('bleurt-pytorch')}|scale:100"
    return segment_mean("bleurt", scores, signature, scale=100.0, n_over_max_length=over, max_length=limit)
