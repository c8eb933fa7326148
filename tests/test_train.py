"""`xllm train` end to end on a tiny Llama: outputs, resume, FSDP on 2 CPU processes, launch lines."""

import dataclasses
import json
import os
import shlex
import subprocess
import sys

import pytest

from helpers.training import model_weights, train_spec, write_mixture
from xllm.cli import main
from xllm.demo.tiny_model import make_tiny_llama
from xllm.train.launch import launch_command
from xllm.train.loop import MANIFEST, TrainConfig, train


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_tiny_llama(
        tmp_path_factory.mktemp("base") / "tiny", hidden_size=32, layers=2, heads=4, max_length=128, seed=1
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rows = []
    for i in range(40):
        if i % 5 == 0:
            rows.append({"id": f"t{i}", "text": f"plain text number {i} " * 3})
        else:
            rows.append(
                {
                    "id": f"r{i}",
                    "instruction": f"Echo {i}",
                    "input": "abc" if i % 2 else "",
                    "output": f"{i} {i} {i}",
                    "kind": "alpaca",
                    "lang": "en",
                }
            )
    return write_mixture(tmp_path_factory.mktemp("data") / "train.jsonl", rows)


def _cfg(base, data, tmp_path, name, **kw):
    return TrainConfig(**train_spec(base, data, tmp_path, name, **kw))


def test_cli_writes_a_complete_model_directory(base, data, tmp_path, capsys):
    out, metrics = tmp_path / "model", tmp_path / "logs" / "metrics.jsonl"
    rc = main(
        [
            "train",
            "--base",
            str(base),
            "--data",
            str(data),
            "--out",
            str(out),
            "--checkpoint-dir",
            str(tmp_path / "ck"),
            "--epochs",
            "2",
            "--learning-rate",
            "3e-3",
            "--global-batch-size",
            "8",
            "--per-device-batch-size",
            "4",
            "--max-seq-length",
            "64",
            "--seed",
            "3",
            "--precision",
            "fp32",
            "--packing",
            "--metrics-file",
            str(metrics),
            "--threads",
            "1",
            "--checkpoint-every",
            "4",
            "--clean-checkpoints",
        ]
    )
    assert rc == 0
    assert list((tmp_path / "ck").iterdir()) == []
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "xllm_prompt.json", MANIFEST} <= names
    assert json.loads((out / "xllm_prompt.json").read_text()) == {"style": "compact"}
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["steps"] == 10 and manifest["gradient_accumulation"] == 2
    assert manifest["hyperparameters"]["learning_rate"] == 3e-3 and manifest["provenance"]["seed"] == 3
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert rows[-1]["loss"] < rows[0]["loss"] and all(r["grad_norm"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    assert rows[-1]["lr"] < rows[2]["lr"]  # cosine decay after warmup
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)  # loads as a plain model (no custom attention)
    assert model.config._attn_implementation in ("sdpa", "eager")


def test_resume_after_a_kill_gives_the_weights_of_an_uninterrupted_run(base, data, tmp_path):
    whole = train(_cfg(base, data, tmp_path, "whole"))
    cfg = _cfg(base, data, tmp_path, "killed")
    assert train(cfg, stop_after=3) is None  # dies after step 3; last checkpoint is step 2
    assert not os.path.exists(cfg.out)
    resumed = train(cfg)
    assert resumed["resumed_from_step"] == 2
    a, b = model_weights(whole and tmp_path / "whole" / "model"), model_weights(cfg.out)
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a), "resumed weights differ"
    assert resumed["final_loss"] == whole["final_loss"]


def test_bad_inputs_are_one_line_errors(base, data, tmp_path, capsys):
    args = ["train", "--base", str(base), "--out", str(tmp_path / "m"), "--checkpoint-dir", str(tmp_path / "c")]
    assert main(args + ["--data", str(tmp_path / "missing.jsonl")]) == 2
    assert main(args + ["--data", str(data), "--global-batch-size", "8", "--per-device-batch-size", "3"]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{oops\n')
    assert main(args + ["--data", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "missing.jsonl" in err[0] and "not divisible" in err[1] and "bad.jsonl: line 2" in err[2]
    assert not (tmp_path / "m").exists()


def test_launch_commands():
    args = ["--base", "b", "--data", "d.jsonl"]
    assert launch_command(1, 0, None, args) == ["xllm", "train", *args]
    assert launch_command(1, 8, "config.yaml", args) == [
        "accelerate",
        "launch",
        "--config_file",
        "config.yaml",
        "--num_processes",
        "8",
        "-m",
        "xllm",
        "train",
        *args,
    ]
    cmd = launch_command(2, 8, "config.yaml", args, job_id="4242")
    assert cmd[:7] == ["srun", "--nodes", "2", "--ntasks-per-node", "1", "bash", "-c"]
    inner = shlex.split(cmd[7])
    assert inner[:4] == ["accelerate", "launch", "--config_file", "config.yaml"]
    assert inner[inner.index("--num_machines") + 1] == "2" and inner[inner.index("--num_processes") + 1] == "16"
    assert inner[inner.index("--main_process_port") + 1] == "24242"
    assert inner[inner.index("--machine_rank") + 1] == "$SLURM_PROCID"  # expanded by each task's shell
    assert "scontrol show hostnames" in cmd[7] and cmd[7].endswith("-m xllm train --base b --data d.jsonl")


def test_launch_train_dry_run_and_errors(capsys, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert main(["launch-train", "--dry-run", "--", "--base", "b"]) == 0
    assert capsys.readouterr().out.strip() == "xllm train --base b"
    assert (
        main(
            [
                "launch-train",
                "--nodes",
                "2",
                "--gpus-per-node",
                "8",
                "--accelerate-config",
                "config.yaml",
                "--dry-run",
                "--",
                "--base",
                "b",
            ]
        )
        == 2
    )
    assert "SLURM_JOB_ID" in capsys.readouterr().err


def test_launch_train_takes_the_workflows_runtime_settings_from_the_environment(capsys, monkeypatch, tmp_path):
    """The workflow passes nodes, GPUs, the accelerate config and the runtime settings of training
    (checkpointing, gradient checkpointing, ...) through $XLLM_TRAIN_LAUNCH, so changing them reruns
    no training; the command line's own flags win."""
    accelerate = tmp_path / "fsdp.yaml"
    accelerate.write_text("distributed_type: FSDP\n")
    runtime = {"checkpoint_every": 50, "gradient_checkpointing": True, "max_shard_size": "2GB"}
    launch = {"nodes": 1, "gpus_per_node": 8, "accelerate_config": str(accelerate), "train": runtime}
    monkeypatch.setenv("XLLM_TRAIN_LAUNCH", json.dumps(launch))
    assert main(["launch-train", "--dry-run", "--", "--base", "b"]) == 0
    cmd = capsys.readouterr().out.split()
    assert cmd[:4] == ["accelerate", "launch", "--config_file", str(accelerate)]
    assert cmd[cmd.index("--num_processes") + 1] == "8"
    assert cmd[-7:] == [
        "--base",
        "b",
        "--checkpoint-every",
        "50",
        "--gradient-checkpointing",
        "--max-shard-size",
        "2GB",
    ]
    argv = [
        "launch-train",
        "--gpus-per-node",
        "0",
        "--checkpoint-every",
        "7",
        "--dry-run",
        "--",
        "--base",
        "b",
        "--no-gradient-checkpointing",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert out == "xllm train --base b --no-gradient-checkpointing --checkpoint-every 7 --max-shard-size 2GB"


@pytest.mark.slow
def test_fsdp_on_two_cpu_processes_matches_one_process(base, data, tmp_path, repo):
    # Our token normalization makes a step independent of how the batch is split; the authors'
    # per-micro-batch mean (the default) would not be (tests/test_train_protocol.py).
    one = train(
        _cfg(
            base,
            data,
            tmp_path,
            "one",
            checkpoint_every=0,
            metrics_file=str(tmp_path / "one.jsonl"),
            loss_normalization="token",
        )
    )
    cfg = _cfg(
        base,
        data,
        tmp_path,
        "two",
        per_device_batch_size=2,
        metrics_file=str(tmp_path / "two.jsonl"),
        loss_normalization="token",
    )
    settings = tmp_path / "two.json"
    settings.write_text(json.dumps(vars(cfg)))
    script = tmp_path / "train_config.py"  # every TrainConfig field, whatever flags the CLI has
    script.write_text(
        "import json, sys\nfrom xllm.train.loop import TrainConfig, train\n"
        "train(TrainConfig(**json.load(open(sys.argv[1]))))\n"
    )
    import socket

    with socket.socket() as sock:  # a free port: other test sessions may share the machine
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS="1")
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
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "model" / MANIFEST).read_text())
    assert two["world_size"] == 2 and two["gradient_accumulation"] == 2
    losses = [[json.loads(x)["loss"] for x in open(tmp_path / f"{n}.jsonl")] for n in ("one", "two")]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    a, b = model_weights(cfg.out), model_weights(one and tmp_path / "one" / "model")
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4


@pytest.mark.slow
def test_sigkill_then_restart_gives_the_weights_of_an_uninterrupted_run(base, data, tmp_path):
    import signal
    import time

    from xllm.train.checkpoint import latest

    kw = dict(global_batch_size=4, per_device_batch_size=4, epochs=3, checkpoint_every=3)
    whole = train(_cfg(base, data, tmp_path, "whole", **kw))
    cfg = _cfg(base, data, tmp_path, "killed", **kw)
    args = [sys.executable, "-m", "xllm", "train"]
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for key, value in vars(cfg).items():
        if value not in (None, False) and value != defaults[key]:  # the CLI's defaults are the dataclass's
            args += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while latest(cfg.checkpoint_dir) is None and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    assert not os.path.exists(cfg.out)
    assert main(args[3:]) == 0
    resumed = json.loads(open(os.path.join(cfg.out, MANIFEST)).read())
    assert resumed["resumed_from_step"] and resumed["steps"] == whole["steps"] == 30
    a, b = model_weights(tmp_path / "whole" / "model"), model_weights(cfg.out)
    assert all((a[k] == b[k]).all() for k in a), "resumed weights differ"


def test_a_checkpoint_of_another_run_is_not_resumed(base, data, tmp_path, capsys):
    cfg = _cfg(base, data, tmp_path, "a")
    assert train(cfg, stop_after=3) is None
    fresh = train(_cfg(base, data, tmp_path, "fresh", seed=6))
    other = train(_cfg(base, data, tmp_path, "a", seed=6))  # same checkpoint dir, another seed
    assert "seed changed" in capsys.readouterr().err
    assert other["resumed_from_step"] is None and other["final_loss"] == fresh["final_loss"]


def test_bf16_padded_with_gradient_checkpointing_trains(base, data, tmp_path):
    cfg = _cfg(
        base,
        data,
        tmp_path,
        "bf16",
        precision="bf16",
        packing=False,
        gradient_checkpointing=True,
        max_steps=2,
        checkpoint_every=0,
    )
    manifest = train(cfg)
    assert manifest["steps"] == 2 and 0 < manifest["final_loss"] < 10
    assert model_weights(cfg.out)["model.norm.weight"].dtype.is_floating_point
