"""Batched decoding: length-sorted, left-padded batches; new tokens sliced by token id.

Four paths, one contract (``Output`` per prompt, in the caller's order):
- ``loop``: greedy decoding in a lean loop over the model's forward with a static KV cache and
  prepared masks; no per-step logits processors, stopping criteria or mask building, which
  dominate a small model's step on CPU; ended rows leave the batch once half of it has ended.
- ``static``: the same loop with every batch padded to one shape (batch size, a cache length
  rounded up to a power of two) and the decoding step compiled once (CUDA graphs on GPUs).
- ``hf-static``: ``model.generate`` with transformers' own static cache and compilation.
- ``hf``: plain ``model.generate`` (sampling, beams).
``auto`` picks ``static`` for greedy on CUDA, ``loop`` for greedy elsewhere, else ``hf``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

from ..args import setting

BACKENDS = ("auto", "loop", "static", "hf-static", "hf")


@dataclass(frozen=True)
class Settings:
    """Decoding settings, declared once: ``xllm generate`` flags and the config's ``generate`` section."""

    batch_size: int = setting(32, help="prompts per batch (length-sorted, left-padded)")
    max_new_tokens: int = setting(512, help="the authors'; prompts are cut from the left to leave room for it")
    num_beams: int = setting(1)
    do_sample: bool = setting(False, help="sample instead of greedy decoding")
    temperature: float = setting(1.0, help="with --do-sample")
    top_p: float = setting(1.0, help="with --do-sample")
    seed: int = setting(0, help="seeds sampling")
    backend: str = setting(
        "auto",
        choices=BACKENDS,
        help="auto | loop (lean greedy) | static (one shape, compiled step: GPU) | hf-static | hf (model.generate)",
    )
    bucket: int = setting(64, help="static backends: pad prompts to a multiple of this many tokens")
    compile: str = setting(
        "auto",
        runtime=True,
        help="static backend: torch.compile mode, none, or backend:NAME (auto: reduce-overhead on CUDA, none on CPU)",
    )
    ignore_eos: bool = setting(False, help="benchmarks: always generate max_new_tokens")
    qa_prompts: str = setting(
        "authors", choices=("authors", "ours"), help="the QA prompt set of tasks.yaml (xllm.generate.tasks)"
    )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Output:
    prediction: str
    token_ids: list[int]
    n_prompt_tokens: int
    n_new_tokens: int
    stopped: bool  # ended with EOS (False: hit max_new_tokens)
    truncated: bool = False  # the prompt was cut from the left to fit the context


@dataclass
class Stats:
    n_prompts: int = 0
    n_new_tokens: int = 0
    n_stopped: int = 0
    n_truncated: int = 0
    seconds: float = 0.0
    backends: dict = field(default_factory=dict)

    def add(self, outputs: Sequence[Output], seconds: float, backend: str) -> None:
        self.n_prompts += len(outputs)
        self.n_new_tokens += sum(o.n_new_tokens for o in outputs)
        self.n_stopped += sum(o.stopped for o in outputs)
        self.n_truncated += sum(o.truncated for o in outputs)
        self.seconds += seconds
        self.backends[backend] = self.backends.get(backend, 0) + len(outputs)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["new_tokens_per_s"] = round(self.n_new_tokens / self.seconds, 1) if self.seconds else None
        return out


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from ..errors import UserError

        raise UserError(f"--device {device}: no CUDA device is available here")
    return device


def load_model(model_dir: str, device: str = "auto", dtype: str = "auto"):
    """Model and tokenizer for decoding: eval mode, left padding, bf16 on GPUs that have it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    if dtype == "auto":
        cuda_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
        torch_dtype = torch.bfloat16 if cuda_bf16 else (torch.float16 if device.startswith("cuda") else torch.float32)
    else:
        torch_dtype = getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype)
    model.to(device).eval()
    return model, tokenizer


def eos_ids(model, tokenizer) -> list[int]:
    """Every id that ends a response: the generation config's and the tokenizer's EOS."""
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = list(ids) if isinstance(ids, (list, tuple)) else ([] if ids is None else [ids])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted({int(i) for i in ids})


def context_length(model, tokenizer) -> int:
    limit = getattr(model.config, "max_position_embeddings", None) or 0
    tok_limit = getattr(tokenizer, "model_max_length", 0) or 0
    if tok_limit and tok_limit < 10**9:
        limit = min(limit, tok_limit) if limit else tok_limit
    return limit or 2048


def encode(tokenizer, prompts: Sequence[str], max_prompt_tokens: int) -> tuple[list[list[int]], list[bool]]:
    """Token ids of each prompt (with the tokenizer's own special tokens), cut from the left to fit."""
    ids = tokenizer(list(prompts), add_special_tokens=True)["input_ids"]
    truncated = [len(x) > max_prompt_tokens for x in ids]
    if any(truncated):
        bos = tokenizer.bos_token_id
        cut = []
        for x in ids:
            if len(x) > max_prompt_tokens:
                keep = x[len(x) - max_prompt_tokens :]
                if bos is not None and x[0] == bos:
                    keep = [bos] + keep[1:]
                x = keep
            cut.append(x)
        ids = cut
    return ids, truncated


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped longest-first, so padding is small and memory peaks in the first batch."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pick_backend(settings: Settings, device: str) -> str:
    if settings.backend != "auto":
        return settings.backend
    if settings.do_sample or settings.num_beams > 1:
        return "hf"
    return "static" if device.startswith("cuda") else "loop"


def _left_pad(batch: Sequence[Sequence[int]], pad_id: int, device, multiple: int = 1):
    import torch

    width = max(len(x) for x in batch)
    width = -(-width // multiple) * multiple
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, x in enumerate(batch):
        if x:
            ids[row, width - len(x) :] = torch.tensor(x, dtype=torch.long)
            mask[row, width - len(x) :] = 1
    return ids.to(device), mask.to(device)


def _masks(mask, total: int, dtype):
    """Additive 4D masks over a static cache of ``total`` slots.

    Prefill: [B,1,L,total], causal over the prompt, blind to padding and to the empty slots;
    steps: [B,1,1,total], padding masked and every new slot masked until it is written. Passing
    prepared 4D masks skips the model's mask construction at every step (vmap-based in recent
    transformers), the largest cost of a small model's step on CPU. Padding query rows attend
    to themselves so that no row is fully masked (which would give NaN).
    """
    import torch

    batch, width = mask.shape
    neg = torch.finfo(dtype).min
    keep = mask.bool()
    causal = torch.ones(width, width, dtype=torch.bool, device=mask.device).tril()
    allowed = causal[None] & keep[:, None, :]
    allowed |= torch.eye(width, dtype=torch.bool, device=mask.device)[None]
    prefill = torch.full((batch, 1, width, total), neg, dtype=dtype, device=mask.device)
    prefill[..., :width].masked_fill_(allowed[:, None], 0.0)
    steps = torch.full((batch, 1, 1, total), neg, dtype=dtype, device=mask.device)
    steps[:, 0, 0, :width].masked_fill_(keep, 0.0)
    return prefill, steps


class _Decoder:
    """Greedy decoding over forward() with one static KV cache of ``total`` slots.

    The cache is written in place (a growing cache concatenates every layer's keys and values at
    every step) and the step mask unmasks one slot per step, so every decoding step has the same
    shapes: with ``compile_mode`` ("reduce-overhead": CUDA graphs) the step is compiled once and
    replayed for every batch of the same size. Prefill runs eagerly (its length varies).
    """

    def __init__(self, model, total: int, compile_mode: str | None = None):
        import torch
        from transformers import StaticCache

        self.model, self.total = model, total
        self.cache = StaticCache(config=model.config, max_cache_len=total)
        self.step = self._step
        if compile_mode and compile_mode.startswith("backend:"):  # e.g. backend:eager, to debug capture
            self.step = torch.compile(self._step, backend=compile_mode.split(":", 1)[1], fullgraph=True, dynamic=False)
        elif compile_mode:
            self.step = torch.compile(self._step, mode=compile_mode, fullgraph=True, dynamic=False)

    def _step(self, token, mask, position, cache_position):
        out = self.model(
            input_ids=token,
            attention_mask=mask,
            position_ids=position,
            past_key_values=self.cache,
            use_cache=True,
            logits_to_keep=1,
            cache_position=cache_position,
        )
        return out.logits[:, -1].argmax(-1)

    def __call__(
        self, ids, mask, max_new_tokens: int, eos: list[int], pad_id: int, check_every: int = 1, compact: bool = False
    ):
        """New token ids [batch, steps] (pad after EOS); stops early once every row has ended.

        ``compact`` (eager decoding only: it changes shapes) drops ended rows from the batch, cache
        included, once at most half of the rows are still running: a small model's step costs
        nearly as much for 40 rows as for 1, but far less than for 40.
        """
        import torch

        device = ids.device
        batch, width = ids.shape
        if width + max_new_tokens > self.total:
            raise ValueError(f"{width} prompt + {max_new_tokens} new tokens exceed the cache ({self.total})")
        if getattr(self.cache, "is_initialized", False):
            self.cache.reset()  # in place: compiled steps keep the cache's addresses
        prefill, step_mask = _masks(mask, self.total, self.model.dtype)
        slots = torch.arange(self.total, device=device)  # cache positions, without a copy per step
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=ids,
            attention_mask=prefill,
            position_ids=positions,
            past_key_values=self.cache,
            use_cache=True,
            logits_to_keep=1,
            cache_position=slots[:width],
        )
        token = out.logits[:, -1].argmax(-1)
        eos_t = torch.tensor(eos or [-1], device=device)
        finished = torch.zeros(batch, dtype=torch.bool, device=device)
        position = positions[:, -1:]
        result = torch.full((batch, max_new_tokens), pad_id, dtype=torch.long, device=device)
        rows = torch.arange(batch, device=device)  # which result row each running row fills
        compact = compact and bool(eos) and hasattr(self.cache, "layers")
        n_steps = max_new_tokens
        for step in range(max_new_tokens):
            token = torch.where(finished, torch.full_like(token, pad_id), token)
            result[rows, step] = token
            finished = finished | torch.isin(token, eos_t)
            if step + 1 == max_new_tokens:
                break
            if eos and (step + 1) % check_every == 0:
                running = int((~finished).sum())
                if running == 0:
                    n_steps = step + 1
                    break
                if compact and running <= len(rows) // 2:
                    keep = (~finished).nonzero().squeeze(1)
                    for layer in self.cache.layers:
                        layer.keys, layer.values = layer.keys[keep], layer.values[keep]
                        layer.max_batch_size = len(keep)
                    rows, token, finished = rows[keep], token[keep], finished[keep]
                    step_mask, position = step_mask[keep], position[keep]
            slot = width + step
            step_mask[..., slot] = 0
            position = position + 1
            token = self.step(token[:, None], step_mask, position, slots[slot : slot + 1]).clone()
        return result[:, :n_steps]


def _decoder(model, batch: int, total: int, compile_mode: str | None) -> _Decoder:
    """One decoder per (batch size, cache length), kept on the model so compiled steps are reused."""
    decoders = model.__dict__.setdefault("_xllm_decoders", {})
    key = (batch, total, compile_mode)
    if key not in decoders:
        decoders[key] = _Decoder(model, total, compile_mode)
    return decoders[key]


def _hf_generate(model, ids, mask, settings: Settings, eos: list[int], pad_id: int, static: bool):
    kwargs = dict(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=settings.max_new_tokens,
        num_beams=settings.num_beams,
        do_sample=settings.do_sample,
        pad_token_id=pad_id,
        eos_token_id=eos or None,
    )
    if settings.do_sample:
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    if settings.ignore_eos:
        kwargs.update(min_new_tokens=settings.max_new_tokens)
    if static:
        kwargs.update(cache_implementation="static")
    out = model.generate(**kwargs)
    return out[:, ids.shape[1] :]  # token ids after the (padded) prompt, never decoded text


def _decode_rows(tokenizer, new, eos: list[int], pad_id: int) -> list[tuple[list[int], bool]]:
    rows = []
    for row in new.tolist():
        kept, stopped = [], False
        for token in row:
            if token in eos:
                stopped = True
                break
            kept.append(token)
        # A pad id that is not EOS can only follow a finished sequence (or be generated, rarely).
        while kept and kept[-1] == pad_id and pad_id not in eos:
            kept.pop()
        rows.append((kept, stopped))
    return rows


def _power_of_two(n: int, floor: int = 256) -> int:
    size = floor
    while size < n:
        size *= 2
    return size


def generate_ids(
    model,
    tokenizer,
    prompt_ids: Sequence[Sequence[int]],
    settings: Settings,
    truncated: Sequence[bool] | None = None,
    device: str | None = None,
    stats: Stats | None = None,
) -> Iterator[tuple[list[int], list[Output]]]:
    """Yield ``(indices, outputs)`` per batch, longest prompts first; outputs align with indices."""
    import torch

    device = device or str(next(model.parameters()).device)
    backend = pick_backend(settings, device)
    if backend not in BACKENDS[1:]:
        raise ValueError(f"unknown generation backend {backend!r}; known: {', '.join(BACKENDS)}")
    eos = [] if settings.ignore_eos else eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id
    truncated = truncated or [False] * len(prompt_ids)
    multiple = settings.bucket if backend in ("static", "hf-static") else 1
    compile_mode = settings.compile
    if compile_mode == "auto":
        compile_mode = "reduce-overhead" if device.startswith("cuda") else "none"
    compile_mode = None if compile_mode == "none" else compile_mode
    torch.manual_seed(settings.seed)
    for indices in length_sorted_batches([len(x) for x in prompt_ids], settings.batch_size):
        start = time.perf_counter()
        batch = [prompt_ids[i] for i in indices]
        if backend == "static":  # one batch shape for every batch: pad the last one with a copy
            batch += [batch[-1]] * (settings.batch_size - len(batch))
        ids, mask = _left_pad(batch, pad_id, device, multiple)
        with torch.inference_mode():
            if backend == "loop":
                decoder = _Decoder(model, ids.shape[1] + settings.max_new_tokens)
                new = decoder(ids, mask, settings.max_new_tokens, eos, pad_id, compact=True)
            elif backend == "static":
                total = _power_of_two(ids.shape[1] + settings.max_new_tokens)
                decoder = _decoder(model, len(batch), total, compile_mode)
                new = decoder(ids, mask, settings.max_new_tokens, eos, pad_id, check_every=8)
            else:
                new = _hf_generate(model, ids, mask, settings, eos, pad_id, static=backend == "hf-static")
        outputs = []
        for i, (kept, stopped) in zip(indices, _decode_rows(tokenizer, new[: len(indices)], eos, pad_id)):
            text = tokenizer.decode(kept, skip_special_tokens=True).strip()
            outputs.append(Output(text, kept, len(prompt_ids[i]), len(kept), stopped, bool(truncated[i])))
        if stats is not None:
            stats.add(outputs, time.perf_counter() - start, backend)
        yield indices, outputs


def generate_texts(
    model,
    tokenizer,
    prompts: Sequence[str],
    settings: Settings,
    on_batch: Callable[[list[int], list[Output]], None] | None = None,
    stats: Stats | None = None,
) -> list[Output]:
    """Generate for every prompt; returns outputs in the order of ``prompts``."""
    context = context_length(model, tokenizer)
    if settings.max_new_tokens >= context:
        from ..errors import UserError

        raise UserError(
            f"--max-new-tokens {settings.max_new_tokens}: the model's context is {context} tokens, "
            "which leaves no room for a prompt"
        )
    max_prompt = context - settings.max_new_tokens
    prompt_ids, truncated = encode(tokenizer, prompts, max_prompt)
    results: list[Output | None] = [None] * len(prompts)
    for indices, outputs in generate_ids(model, tokenizer, prompt_ids, settings, truncated, stats=stats):
        for i, output in zip(indices, outputs):
            results[i] = output
        if on_batch:
            on_batch(indices, outputs)
    return results  # type: ignore[return-value]
