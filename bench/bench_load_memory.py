"""Peak host memory per process while 2 FSDP processes (gloo, CPU) load a ~0.5B-parameter model.

before: every process reads the whole model (``from_pretrained``), then shards it (the old path).
after:  every process builds the model on the meta device, shards it, and reads only its own rows
        of each tensor from the memory-mapped safetensors (``xllm.train.weights``).

Peak RSS (``ru_maxrss``) of each process is measured right after loading, then after saving the
final model (before: the whole state dict gathered on rank 0 and ``save_pretrained``; after:
gathered one file at a time, ``weights.save_gathered``), in the same run for both paths, on the same
saved model (random weights, bf16 on disk as LLaMA's are, fp32 in memory
as training keeps them). A checksum of each rank's local shards shows both paths load the same
weights.

    PYTHONPATH=src python bench/bench_load_memory.py [--layers 35 --hidden 1024 --vocab 32000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def make_model(out: Path, hidden: int, layers: int, vocab: int) -> int:
    """A random Llama saved as bf16 safetensors; returns its parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from xllm.demo.tiny_model import byte_tokenizer

    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=int(hidden * 8 / 3 // 64 * 64),
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=hidden // 64,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        dtype="bfloat16",
    )
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():  # random weights, fast (no per-layer init schemes)
            p.normal_(0, 0.02, generator=gen)
    model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
    byte_tokenizer().save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


SHARD = "400MB"  # the final model's files (training's default is 5GB: 7B models in 6 files)


def worker(mode: str, base: str) -> None:
    import resource

    import torch
    import torch.distributed as dist

    from xllm.train import weights
    from xllm.train.distributed import Runtime
    from xllm.train.loop import build_model

    rt = Runtime("fp32", threads=1)
    start_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "before":
        model = rt.wrap(build_model(base, False, False))
    else:
        model = rt.wrap(build_model(base, False, False, empty=True))
        weights.load_local_shards(model, base)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        checksum = sum(float(p.to_local().double().sum()) for p in model.parameters())
    # saving the final model: the whole state dict gathered on rank 0 (before) or one file at a time (after)
    out = Path(base).parent / f"saved-{mode}"
    if mode == "before":
        state = rt.full_state_dict(model)
        if rt.is_main:
            model.save_pretrained(out, state_dict=state, safe_serialization=True, max_shard_size=SHARD)
        del state
    else:
        weights.save_gathered(model, out if rt.is_main else None, SHARD, rt.is_main)
    rt.barrier()
    save_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = [None] * rt.world
    dist.all_gather_object(
        rows,
        {
            "rank": rt.rank,
            "start_mb": start_kb / 1024,
            "peak_mb": peak_kb / 1024,
            "save_peak_mb": save_kb / 1024,
            "checksum": checksum,
        },
    )
    if rt.is_main:
        print("RESULT " + json.dumps(rows))
    rt.close()


def run(mode: str, base: Path) -> list[dict]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        ACCELERATE_USE_FSDP="true",
        ACCELERATE_USE_CPU="true",
        PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(port),
            __file__,
            "--worker",
            mode,
            "--base",
            str(base),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        sys.exit("\n".join(line for line in proc.stderr.splitlines() if "rank0]" in line or "Error" in line)[-3000:])
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=35)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--worker", choices=("before", "after"))
    ap.add_argument("--base")
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.base)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "model"
        path = [str(Path(__file__).parent), *sys.path]
        code = (
            f"import sys; sys.path[:0] = {path!r}; from bench_load_memory import make_model; "
            "from pathlib import Path; "
            f"print(make_model(Path({str(base)!r}), {args.hidden}, {args.layers}, {args.vocab}))"
        )
        n = int(
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()[-1]
        )
        size = sum(f.stat().st_size for f in base.glob("*.safetensors"))
        print(
            f"model: {n / 1e9:.3f}B parameters, {size / 2**30:.2f} GiB bf16 on disk, "
            f"{n * 4 / 2**30:.2f} GiB fp32 in memory"
        )
        results = {mode: run(mode, base) for mode in ("before", "after")}
    for mode, rows in results.items():
        for r in rows:
            print(
                f"{mode:6s} rank {r['rank']}: peak RSS {r['peak_mb']:8.0f} MiB "
                f"(after imports and process group: {r['start_mb']:.0f} MiB), shard checksum {r['checksum']:.6f}"
            )
    for mode, rows in results.items():
        r = rows[0]
        print(f"{mode:6s} rank 0: peak RSS {r['save_peak_mb']:8.0f} MiB after also saving the model ({SHARD} files)")
    same = all(
        abs(a["checksum"] - b["checksum"]) < 1e-6 * max(1.0, abs(a["checksum"]))
        for a, b in zip(results["before"], results["after"])
    )
    worst = {m: max(r["peak_mb"] for r in rows) for m, rows in results.items()}
    print(f"same weights loaded: {same}")
    print(
        f"peak RSS per process, worst rank: before {worst['before']:.0f} MiB, after {worst['after']:.0f} MiB, "
        f"ratio after/before {worst['after'] / worst['before']:.2f}"
    )
    save = {m: rows[0]["save_peak_mb"] for m, rows in results.items()}
    print(
        f"peak RSS of rank 0 through loading and saving: before {save['before']:.0f} MiB, "
        f"after {save['after']:.0f} MiB, "
        f"ratio after/before {save['after'] / save['before']:.2f}"
    )


if __name__ == "__main__":
    main()
