"""FSDP on 2 CPU processes for several architectures: sharded loading from the meta device, the
wrap class taken from the model, resume from a sharded checkpoint, and the final sharded safetensors."""

import json
import os
import socket
import subprocess
import sys

import pytest

from helpers.training import model_weights, train_spec, write_mixture
from xllm.demo.tiny_model import byte_tokenizer
from xllm.train.loop import MANIFEST, TrainConfig, train

ARCHS = {  # tiny configs; Gemma ties the output layer to the embedding, GPT-NeoX is not Llama-shaped
    "llama": ("LlamaConfig", dict(num_key_value_heads=2, tie_word_embeddings=False)),
    "qwen2": ("Qwen2Config", dict(num_key_value_heads=2, tie_word_embeddings=False)),
    "gemma": ("GemmaConfig", dict(num_key_value_heads=1, head_dim=8, tie_word_embeddings=True)),
    "gpt_neox": ("GPTNeoXConfig", dict(tie_word_embeddings=False)),
}


def make_tiny(out, arch):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    from xllm.atomic import write_json
    from xllm.prompts import STYLE_FILE

    tok = byte_tokenizer()
    name, extra = ARCHS[arch]
    config = getattr(transformers, name)(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=128,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **extra,
    )
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out, safe_serialization=True, max_shard_size="40KB")  # several files + index
    tok.save_pretrained(out)
    write_json(out / STYLE_FILE, {"style": "compact"})
    return out


def test_row_reads_match_safetensors_and_torch_chunk(tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    from xllm.train.weights import _Rows, _rows, plan_files

    tensors = {
        "a": torch.randn(7, 5, dtype=torch.bfloat16),
        "b": torch.arange(12, dtype=torch.int64).reshape(3, 4),
        "c": torch.randn(4),
        "s": torch.tensor(2.5),
    }
    save_file(tensors, str(tmp_path / "w.safetensors"))
    reader, ref = _Rows(tmp_path / "w.safetensors"), load_file(str(tmp_path / "w.safetensors"))
    for length in (0, 1, 2, 3, 5, 7, 8):
        for parts in (1, 2, 3, 4):
            sizes = [len(c) for c in torch.arange(length).chunk(parts)] if length else []
            got = [_rows(length, parts, i) for i in range(parts)]
            assert [e - s for s, e in got if e > s] == sizes and got[-1][1] == length
    for name, t in ref.items():
        assert torch.equal(reader.read(name), t)
        if t.ndim:
            for start, end in ((0, 1), (1, t.shape[0]), (t.shape[0], t.shape[0])):
                assert torch.equal(reader.read(name, start, end), t[start:end])
    reader.close()
    assert plan_files([("x", 60), ("y", 50), ("z", 200), ("w", 10)], 100) == [["x"], ["y"], ["z"], ["w"]]
    assert plan_files([("x", 40), ("y", 50), ("z", 20)], 100) == [["x", "y"], ["z"]]


def test_meta_model_filled_from_files_equals_from_pretrained(tmp_path):
    """The loading path without sharding (plain tensors): same weights, buffers and ties as from_pretrained."""
    import torch
    from safetensors.torch import load_file, save_file

    from xllm.errors import UserError
    from xllm.train.loop import build_model
    from xllm.train.weights import load_local_shards, materialize

    base = make_tiny(tmp_path / "base", "gemma")
    ref = build_model(str(base), False, False)
    model = build_model(str(base), False, False, empty=True)
    assert all(p.is_meta for p in model.parameters())
    materialize(model, "cpu")
    load_local_shards(model, base)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    got, want = model.state_dict(), ref.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    for (name, a), (_, b) in zip(model.named_buffers(), ref.named_buffers()):
        assert torch.equal(a, b), name  # rotary frequencies survive to_empty
    old = tmp_path / "bin"  # an older checkpoint: pytorch_model-*.bin with an index
    ref.save_pretrained(old, safe_serialization=False, max_shard_size="40KB")
    assert (old / "pytorch_model.bin.index.json").exists()
    model = build_model(str(base), False, False, empty=True)
    materialize(model, "cpu")
    load_local_shards(model, old)
    got = model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)

    index = json.loads((base / "model.safetensors.index.json").read_text())
    name = "model.norm.weight"
    path = base / index["weight_map"][name]
    tensors = load_file(str(path))
    del tensors[name]
    save_file(tensors, str(path), metadata={"format": "pt"})
    del index["weight_map"][name]
    (base / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(UserError, match="no weights for model.norm.weight"):
        load_local_shards(model, base)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rows = [{"id": f"r{i}", "instruction": f"Echo {i}", "input": "", "output": f"{i} {i} {i}"} for i in range(24)]
    return write_mixture(tmp_path_factory.mktemp("data") / "train.jsonl", rows)


def _spec(base, data, root, name, **kw):
    spec = dict(global_batch_size=4, per_device_batch_size=2, max_seq_length=48, packing=False)
    spec["max_shard_size"] = "40KB"
    # the token mean makes a step independent of how the batch is split (1 process of 4 rows
    # vs 2 of 2); the authors' per-micro-batch mean would not be
    spec["loss_normalization"] = "token"
    return train_spec(base, data, root, name, **{**spec, **kw})


def _launch(repo, spec):
    """``train(spec)`` in 2 gloo processes under accelerate; the whole process group is killed on timeout."""
    import signal

    with socket.socket() as sock:  # a free port: other test sessions may share the machine
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    env.pop("FSDP_TRANSFORMER_CLS_TO_WRAP", None)  # the layer class must come from the model
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(repo / "workflow/accelerate/fsdp-cpu.yaml"),
            "--main_process_port",
            str(port),
            str(repo / "tests/fsdp_runner.py"),
            json.dumps(spec),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_fsdp_two_processes_load_sharded_resume_and_save_sharded(arch, data, tmp_path, repo):
    base = make_tiny(tmp_path / "base", arch)
    whole = train(TrainConfig(**_spec(base, data, tmp_path, "one", per_device_batch_size=4, checkpoint_every=0)))
    assert whole["steps"] == 6
    _launch(repo, _spec(base, data, tmp_path, "two", stop_after=3))  # dies after step 3; last checkpoint: step 2
    assert not (tmp_path / "two" / "model").exists()
    _launch(repo, _spec(base, data, tmp_path, "two"))  # the restart resumes from the sharded checkpoint
    out = tmp_path / "two" / "model"
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["world_size"] == 2 and manifest["resumed_from_step"] == 2
    assert manifest["final_loss"] == pytest.approx(whole["final_loss"], rel=1e-4)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1  # written in several files
    a, b = model_weights(out), model_weights(tmp_path / "one" / "model")
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)  # the sharded output loads as a plain model
    assert type(model).__name__ == type(AutoModelForCausalLM.from_pretrained(base)).__name__
    if arch == "gemma":
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
