"""The authors' training protocol and ours, on a real tiny Llama: loss normalization, the pad
token, the prompt format of the trained examples."""

import json
from contextlib import nullcontext

import pytest

from helpers.training import train_spec, write_mixture
from xllm.demo.tiny_model import bpe_tokenizer, make_tiny_llama
from xllm.errors import UserError
from xllm.prompts import format_prompt
from xllm.train import batches
from xllm.train.examples import IGNORE, encode_rows
from xllm.train.loop import TrainConfig, micro_batch_loss, train
from xllm.train.tokens import apply_pad_policy


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_tiny_llama(
        tmp_path_factory.mktemp("base") / "tiny", hidden_size=32, layers=2, heads=4, max_length=128, seed=1
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Responses of very different lengths, so micro-batches hold very different token counts."""
    rows = [
        {"id": str(i), "instruction": f"Echo {i}", "input": "", "output": " ".join([str(i)] * (1 + 6 * (i % 4)))}
        for i in range(16)
    ]
    return write_mixture(tmp_path_factory.mktemp("data") / "train.jsonl", rows)


def _cfg(base, data, tmp_path, name, **kw):
    spec = dict(learning_rate=1e-3, per_device_batch_size=2, max_steps=1, warmup_ratio=0.03, checkpoint_every=0)
    spec["metrics_file"] = str(tmp_path / name / "metrics.jsonl")
    return TrainConfig(**train_spec(base, data, tmp_path, name, **{**spec, **kw}))


def _reference(base, data, cfg):
    """Step 1 by hand: per micro-batch summed losses and gradients of the base model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    rows = [json.loads(line) for line in open(data)]
    examples, _ = encode_rows(rows, tok, "compact", cfg.max_seq_length)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    micro = batches.step_micro_batches(len(examples), cfg.seed, 0, cfg.global_batch_size, cfg.per_device_batch_size)
    out = []
    for mb in micro:
        group = [examples[i] for i in mb]
        model.zero_grad()
        loss = micro_batch_loss(model, batches.collate_packed(group), True, torch.device("cpu"), nullcontext())
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        out.append((loss.item(), sum(e.n_targets for e in group), grads))
    return out


def _grad_norm(weighted):
    import torch

    total = [sum(w * g[k] for w, g in weighted) for k in range(len(weighted[0][1]))]
    return torch.sqrt(sum((t.double() ** 2).sum() for t in total)).item()


def test_micro_batch_and_token_normalization_differ_and_each_is_its_definition(base, data, tmp_path):
    runs = {norm: train(_cfg(base, data, tmp_path, norm, loss_normalization=norm)) for norm in ("micro_batch", "token")}
    logged = {norm: json.loads(open(tmp_path / norm / "metrics.jsonl").readline()) for norm in runs}
    ref = _reference(base, data, _cfg(base, data, tmp_path, "ref"))
    assert len({n for _, n, _ in ref}) > 1, "the micro-batches must hold different numbers of response tokens"
    n_all = sum(n for _, n, _ in ref)
    # the authors' (HF Trainer): mean per micro-batch, averaged over the accumulation steps
    authors = sum(loss / n for loss, n, _ in ref) / len(ref)
    ours = sum(loss for loss, _, _ in ref) / n_all
    assert logged["micro_batch"]["loss"] == pytest.approx(authors, rel=1e-4)
    assert logged["token"]["loss"] == pytest.approx(ours, rel=1e-4)
    assert abs(authors - ours) > 1e-3
    # the gradients too (the logged norm is taken before clipping)
    assert logged["micro_batch"]["grad_norm"] == pytest.approx(
        _grad_norm([(1 / (n * len(ref)), g) for _, n, g in ref]), rel=1e-3
    )
    assert logged["token"]["grad_norm"] == pytest.approx(_grad_norm([(1 / n_all, g) for _, n, g in ref]), rel=1e-3)
    assert runs["micro_batch"]["hyperparameters"]["loss_normalization"] == "micro_batch"


@pytest.mark.slow
def test_micro_batch_normalization_under_fsdp_averages_every_process_s_micro_batches(base, data, tmp_path, repo):
    """Two processes (FSDP on CPUs), two micro-batches each: the step is the mean of the four
    micro-batches' means, as HF Trainer under DDP/FSDP (loss / accumulation, gradients averaged)."""
    import os
    import socket
    import subprocess
    import sys

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = _cfg(base, data, tmp_path, "fsdp", per_device_batch_size=2)
    settings = tmp_path / "fsdp.json"
    settings.write_text(json.dumps(vars(cfg)))
    script = tmp_path / "train_config.py"
    script.write_text(
        "import json, sys\nfrom xllm.train.loop import TrainConfig, train\n"
        "train(TrainConfig(**json.load(open(sys.argv[1]))))\n"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(repo / "workflow/accelerate/fsdp-cpu.yaml"),
            "--main_process_port",
            str(port),
            str(script),
            str(settings),
        ],
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    logged = json.loads(open(cfg.metrics_file).readline())["loss"]

    tok = AutoTokenizer.from_pretrained(base)
    examples, _ = encode_rows([json.loads(line) for line in open(data)], tok, "compact", cfg.max_seq_length)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    means = []
    for rank in range(2):
        for mb in batches.step_micro_batches(len(examples), cfg.seed, 0, 8, 2, rank, 2):
            group = [examples[i] for i in mb]
            with torch.no_grad():
                loss = micro_batch_loss(model, batches.collate_packed(group), True, torch.device("cpu"), nullcontext())
            means.append(loss.item() / sum(e.n_targets for e in group))
    assert len(means) == 4 and logged == pytest.approx(sum(means) / 4, rel=1e-4)


def test_token_normalization_does_not_depend_on_the_micro_batch_size_the_authors_does(base, data, tmp_path):
    loss = {}
    for norm in ("micro_batch", "token"):
        for per_device in (2, 4):
            name = f"{norm}-{per_device}"
            train(_cfg(base, data, tmp_path, name, loss_normalization=norm, per_device_batch_size=per_device))
            loss[norm, per_device] = json.loads(open(tmp_path / name / "metrics.jsonl").readline())["loss"]
    assert loss["token", 2] == pytest.approx(loss["token", 4], rel=1e-5)
    assert loss["micro_batch", 2] != pytest.approx(loss["micro_batch", 4], rel=1e-4)


@pytest.fixture()
def no_pad_base(tmp_path):
    """A tiny Llama whose tokenizer has no pad token and no "<pad>" in its vocabulary, as LLaMA's."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from xllm.prompts import STYLE_FILE

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        [f"Echo {i} " * 3 for i in range(20)] * 5,
        trainers.BpeTrainer(vocab_size=120, special_tokens=["<s>", "</s>", "<unk>"], show_progress=False),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            max_position_embeddings=128,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            tie_word_embeddings=True,
        )
    )
    path = tmp_path / "no-pad"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    (path / STYLE_FILE).write_text(json.dumps({"style": "compact"}))
    assert tok.pad_token_id is None and "<pad>" not in tok.get_vocab()
    return path


def test_pad_policy_add_resizes_with_the_mean_of_the_old_rows(no_pad_base):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(no_pad_base)
    untied = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            tie_word_embeddings=False,
        )
    )
    for model in (AutoModelForCausalLM.from_pretrained(no_pad_base), untied):
        tok = AutoTokenizer.from_pretrained(no_pad_base)
        rows = len(tok)
        before_in = model.get_input_embeddings().weight.detach().clone()
        before_out = model.get_output_embeddings().weight.detach().clone()
        pad = apply_pad_policy(model, tok, "add")
        assert tok.pad_token == "<pad>" and pad == rows == tok.pad_token_id and model.config.pad_token_id == pad
        emb, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
        assert emb.shape[0] == out.shape[0] == rows + 1
        assert torch.equal(emb[:rows], before_in) and torch.equal(out[:rows], before_out)
        assert torch.allclose(emb[pad], before_in.mean(0)) and torch.allclose(out[pad], before_out.mean(0))

    tok = AutoTokenizer.from_pretrained(no_pad_base)
    model = AutoModelForCausalLM.from_pretrained(no_pad_base)
    assert apply_pad_policy(model, tok, "eos") == tok.eos_token_id and tok.pad_token_id is None
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    with pytest.raises(ValueError, match="pad token policy"):
        apply_pad_policy(model, tok, "zero")


@pytest.mark.parametrize("policy", ["add", "eos"])
def test_trained_model_keeps_the_pad_policy(no_pad_base, data, tmp_path, policy):
    from transformers import AutoConfig, AutoTokenizer

    base_vocab = AutoConfig.from_pretrained(no_pad_base).vocab_size
    cfg = _cfg(no_pad_base, data, tmp_path, policy, pad_token=policy, packing=False)
    assert train(cfg)["hyperparameters"]["pad_token"] == policy
    tok = AutoTokenizer.from_pretrained(cfg.out)
    vocab = AutoConfig.from_pretrained(cfg.out).vocab_size
    if policy == "add":
        assert tok.pad_token == "<pad>" and vocab == base_vocab + 1
    else:
        assert tok.pad_token_id is None and vocab == base_vocab


def test_unknown_options_are_one_line_errors(base, data, tmp_path):
    for kw, flag in (
        (dict(loss_normalization="sum"), "--loss-normalization"),
        (dict(pad_token="zero"), "--pad-token"),
        (dict(prompt_format="chat"), "--prompt-format"),
    ):
        with pytest.raises(UserError, match=flag):
            train(_cfg(base, data, tmp_path, "bad", **kw))


def test_authors_prompt_ends_at_the_response_header_and_trains_output_then_eos():
    tok = bpe_tokenizer(
        ["### Response:" + w for w in ("yes", "no", "maybe")] * 30 + ["Below is an instruction"] * 30, 300
    )
    row = {"instruction": "Say yes", "input": "", "output": "yes"}
    prompts = {}
    for style in ("authors", "ours"):
        (ex,), _ = encode_rows([row], tok, style, max_len=256)
        prompts[style] = format_prompt(row["instruction"], "", style)
        trained = [t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE]
        assert trained[-1] == tok.eos_token_id
        assert tok.decode(trained[:-1]).endswith("yes")
    assert prompts["authors"].endswith("### Response:") and prompts["ours"] == prompts["authors"] + "\n"
    (ex,), _ = encode_rows([row], tok, "authors", max_len=256)
    assert ex.input_ids[:-1] == tok(prompts["authors"] + "yes")["input_ids"]  # no newline between


def test_prompt_format_default_is_the_authors_and_an_explicit_one_is_recorded(base, data, tmp_path):
    from xllm.prompts import STYLE_FILE, prompt_style

    assert prompt_style(tmp_path) == "authors"  # a model directory without xllm_prompt.json (LLaMA's)
    (tmp_path / STYLE_FILE).write_text(json.dumps({"style": "alpaca"}))  # written by the first version
    assert format_prompt("i", "", prompt_style(tmp_path)) == format_prompt("i", "", "ours")
    cfg = _cfg(base, data, tmp_path, "explicit", prompt_format="ours", max_seq_length=300)  # bytes: long prompts
    manifest = train(cfg)
    assert prompt_style(cfg.out) == "ours" and manifest["prompt_format"] == "ours"
    assert train(_cfg(base, data, tmp_path, "inherited"))["prompt_format"] == "compact"  # the demo base's
