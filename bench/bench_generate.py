"""Generation throughput, measured side by side in one run; prints ratios.

cpu (default): the demo's tiny byte-level Llama on demo-like prompts: the project's batched,
length-sorted decoding against one prompt at a time (same prompts, same decoder), and against
plain ``model.generate`` on the same batches. Target: batched >= 5x one-at-a-time.

gpu: a ~1.1B Llama (TinyLlama shape, random weights, bf16), greedy, 128 new tokens fixed,
256 prompts of Alpaca-like lengths: the project's path (length-sorted batches, one static shape,
compiled step) against plain ``model.generate`` with left-padded batches of 128 in file order.
Target: >= 10k new tokens/s. The first pass of a compiled path includes compilation; the second
is the steady state that a long evaluation sees.

    python bench/bench_generate.py                       # cpu
    python bench/bench_generate.py --mode gpu --out r.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from xllm.generate.engine import Settings, Stats, generate_ids, generate_texts, load_model


def demo_prompts(n: int, seed: int) -> list[str]:
    """Prompts shaped like the demo's: translation and QA items in the compact style."""
    from xllm.demo import english
    from xllm.prompts import format_prompt, translation_instruction

    rng = random.Random(seed)
    sentences = english.unique_sentences(rng, n + 3)
    prompts = []
    for i, item in enumerate(sentences[:n]):
        if i % 3 == 2:
            context = " ".join(s["text"] for s in rng.sample(sentences, 2)) + " " + item["text"]
            text = f"Context: {context}\nQuestion: {english.qa_question(item)}"
            prompts.append(format_prompt(english.QA_INSTRUCTION, text, "compact"))
        else:
            prompts.append(format_prompt(translation_instruction("English", "Farish"), item["text"], "compact"))
    return prompts


def bench_cpu(args) -> dict:
    import torch

    from xllm.demo.tiny_model import make_tiny_llama

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_tiny_llama(Path(tmp) / "tiny", 96, 2, 4, 512, seed=7)
        model, tok = load_model(str(model_dir), "cpu")
    prompts = demo_prompts(args.prompts, args.seed)
    runs = {
        "batched": Settings(
            batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, backend="loop", ignore_eos=True
        ),
        "one_at_a_time": Settings(batch_size=1, max_new_tokens=args.max_new_tokens, backend="loop", ignore_eos=True),
        "batched_model_generate": Settings(
            batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, backend="hf", ignore_eos=True
        ),
    }
    generate_texts(model, tok, prompts[:4], runs["batched"])  # warm-up
    seconds = {name: [] for name in runs}
    outputs = {}
    for _ in range(args.repeats):  # interleaved, so a load change on the machine hits every path
        for name, settings in runs.items():
            start = time.perf_counter()
            outputs[name] = generate_texts(model, tok, prompts, settings)
            seconds[name].append(time.perf_counter() - start)
    best = {name: min(times) for name, times in seconds.items()}
    same = [o.token_ids for o in outputs["batched"]] == [o.token_ids for o in outputs["one_at_a_time"]]
    new_tokens = sum(o.n_new_tokens for o in outputs["batched"])
    return {
        "mode": "cpu",
        "prompts": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "repeats": args.repeats,
        "seconds_best": {k: round(v, 3) for k, v in best.items()},
        "new_tokens_per_s": {k: round(new_tokens / v, 1) for k, v in best.items()},
        "ratio_batched_vs_one_at_a_time": round(best["one_at_a_time"] / best["batched"], 2),
        "ratio_batched_vs_model_generate": round(best["batched_model_generate"] / best["batched"], 2),
        "batched_equals_one_at_a_time": same,
    }


def word_tokenizer(vocab_size: int):
    """A tokenizer of ``vocab_size`` opaque tokens, so random token ids decode like real ones."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"<t{i}>": i for i in range(vocab_size)}
    vocab.update({"<pad>": 0, "<s>": 1, "</s>": 2})
    del vocab["<t0>"], vocab["<t1>"], vocab["<t2>"]
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.padding_side = "left"
    return fast


def alpaca_like_lengths(n: int, seed: int) -> list[int]:
    """Prompt lengths in tokens like Alpaca's wrapped prompts: ~60% without input, 40% with one."""
    rng = random.Random(seed)
    return [rng.randint(45, 90) if rng.random() < 0.6 else rng.randint(90, 300) for _ in range(n)]


def bench_gpu(args) -> dict:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = dict(
        vocab_size=32000,
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
    )  # TinyLlama-1.1B's
    if args.smoke:  # a check of this code on CPU, not a measurement
        shape = dict(
            vocab_size=1000,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    config = LlamaConfig(
        **shape, max_position_embeddings=2048, bos_token_id=1, eos_token_id=2, pad_token_id=0, rope_theta=10000.0
    )
    device = "cpu" if args.smoke else "cuda"
    sync = (lambda: None) if args.smoke else torch.cuda.synchronize
    torch.manual_seed(args.seed)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    model.eval()
    n_params = sum(p.numel() for p in model.parameters())
    tok = word_tokenizer(config.vocab_size)
    rng = random.Random(args.seed)
    prompts = [
        [1] + [rng.randrange(3, config.vocab_size) for _ in range(n - 1)]
        for n in alpaca_like_lengths(args.prompts, args.seed)
    ]
    new = args.max_new_tokens
    device_name = "cpu (smoke)" if args.smoke else torch.cuda.get_device_name()
    result = {
        "mode": "gpu",
        "device": device_name,
        "params": n_params,
        "prompts": len(prompts),
        "max_new_tokens": new,
        "batch_size": args.batch_size,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "paths": {},
    }

    def plain_generate():
        n = 0
        with torch.inference_mode():
            for start in range(0, len(prompts), args.batch_size):
                batch = prompts[start : start + args.batch_size]
                enc = tok.pad({"input_ids": batch}, return_tensors="pt").to(device)
                out = model.generate(
                    **enc,
                    max_new_tokens=new,
                    min_new_tokens=new,
                    do_sample=False,
                    pad_token_id=0,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                )
                n += (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
        return n

    def project(backend):
        def run():
            stats = Stats()
            settings = Settings(
                batch_size=args.batch_size,
                max_new_tokens=new,
                backend=backend,
                ignore_eos=True,
                compile="none" if args.smoke else "auto",
            )
            for _ in generate_ids(model, tok, prompts, settings, device=device, stats=stats):
                pass
            return stats.n_new_tokens

        return run

    paths = {
        "model_generate": plain_generate,
        "project_static": project("static"),
        "project_hf_static": project("hf-static"),
        "project_loop": project("loop"),
    }
    for name in args.paths.split(","):
        passes = []
        try:
            for _ in range(2):  # first pass: includes compilation and CUDA graph capture
                sync()
                start = time.perf_counter()
                n = paths[name]()
                sync()
                seconds = time.perf_counter() - start
                passes.append(
                    {"seconds": round(seconds, 2), "new_tokens": n, "new_tokens_per_s": round(n / seconds, 1)}
                )
                if not args.smoke:
                    passes[-1]["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
                print(name, passes[-1], flush=True)
        except Exception as err:  # report and go on with the other paths
            passes.append({"error": f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"})
            print(name, passes[-1], flush=True)
        result["paths"][name] = passes
    steady = {k: v[-1].get("new_tokens_per_s") for k, v in result["paths"].items()}
    base = steady.get("model_generate")
    result["steady_new_tokens_per_s"] = steady
    if base:
        result["ratio_vs_model_generate"] = {k: round(v / base, 2) for k, v in steady.items() if v}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--prompts", type=int, default=None, help="cpu: 80, gpu: 256")
    parser.add_argument("--batch-size", type=int, default=None, help="cpu: 40, gpu: 128")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="cpu: 48, gpu: 128")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paths", default="model_generate,project_static,project_hf_static")
    parser.add_argument("--smoke", action="store_true", help="gpu mode's code on CPU with a tiny model")
    parser.add_argument("--out", help="also write the result as JSON here")
    args = parser.parse_args()
    gpu = args.mode == "gpu"
    args.prompts = args.prompts or (256 if gpu else 80)
    args.batch_size = args.batch_size or (128 if gpu else 40)
    args.max_new_tokens = args.max_new_tokens or (128 if gpu else 48)
    result = bench_gpu(args) if gpu else bench_cpu(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
