"""`xllm` commands run by the preload server behave as direct runs, and die with their caller."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from xllm import preload

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="preload is Linux only")
XLLM = str(Path(sys.executable).parent / "xllm")
POINTS = "pairs,score\n100,20\n200,31\n400,45\n800,58\n1600,70\n"


@pytest.fixture
def env():
    """A private temporary folder (short: socket paths are limited to 107 bytes), light preloads."""
    tmp = tempfile.mkdtemp(prefix="xp", dir="/tmp")
    environ = {
        **os.environ,
        "TMPDIR": tmp,
        "XLLM_PRELOAD": "1",
        "XLLM_PRELOAD_MODULES": "json",
        "XLLM_PRELOAD_IDLE": "2",
    }
    environ.pop("SLURM_JOB_ID", None)
    yield environ
    wait_for(lambda: not list(Path(tmp).glob("xllm-preload-*/*.sock")), timeout=30)  # servers exit once idle
    shutil.rmtree(tmp, ignore_errors=True)


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def xllm(args, env, cwd=None, **kwargs):
    return subprocess.run([XLLM, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, **kwargs)


def server_log(env) -> str:
    return "".join(p.read_text() for p in Path(env["TMPDIR"]).glob("xllm-preload-*/*.log"))


def test_output_and_exit_status_are_those_of_a_direct_run(env):
    env = {**env, "XLLM_PRELOAD_IDLE": "15"}  # the direct runs between must not outlast the server
    direct = {**env, "XLLM_PRELOAD": "0"}
    for args in (["--help"], ["no-such-command"], ["fit", "--points", "missing.csv", "--gamma", "0.5", "--out", "x"]):
        served, plain = xllm(args, env), xllm(args, direct)
        assert (served.returncode, served.stdout, served.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert [xllm([], env).returncode, xllm(["no-such-command"], env).returncode] == [2, 2]
    log = server_log(env)
    assert log.count("ready:") == 1 and log.count(" runs: ") == 5  # one server served all five


def test_command_gets_the_callers_directory_environment_and_umask(env, tmp_path):
    (tmp_path / "points.csv").write_text(POINTS)
    env = {**env, "XLLM_CONFIG_HASH": "feedc0de"}
    assert xllm(["--help"], env, preexec_fn=lambda: os.umask(0o022)).returncode == 0  # starts the server
    served = xllm(
        ["fit", "--points", "points.csv", "--gamma", "0.5", "--out", "fit.json"],
        env,
        cwd=tmp_path,
        preexec_fn=lambda: os.umask(0o027),
    )
    assert served.returncode == 0, served.stderr
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["provenance"]["config_hash"] == "feedc0de"
    assert (tmp_path / "fit.json").stat().st_mode & 0o777 == 0o640
    assert server_log(env).count(" runs: ") == 2


def test_torch_preloaded_model_is_byte_identical_to_a_direct_run(env, tmp_path):
    """The real preload list (torch, transformers): a tiny model made in a fork, then directly."""
    env = {k: v for k, v in env.items() if k != "XLLM_PRELOAD_MODULES"}
    args = ["demo-base", "--hidden-size", "32", "--layers", "1", "--heads", "2", "--seed", "3"]
    served = xllm([*args, "--out", str(tmp_path / "served")], env)
    plain = xllm([*args, "--out", str(tmp_path / "plain")], {**env, "XLLM_PRELOAD": "0"})
    assert served.returncode == plain.returncode == 0, served.stderr + plain.stderr
    assert "imported torch, transformers" in server_log(env)
    files = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert files and files == sorted(p.name for p in (tmp_path / "served").iterdir())
    for name in files:
        assert (tmp_path / "served" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name


def blocked_command(env, tmp_path):
    """A command stuck opening a FIFO nobody writes to; returns the caller and the command's pid."""
    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)
    caller = subprocess.Popen(
        [XLLM, "fit", "--points", str(fifo), "--gamma", "0.5", "--out", str(tmp_path / "f.json")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(lambda: " runs: " in server_log(env))
    line = next(line for line in server_log(env).splitlines() if " runs: " in line)
    pid = int(line.split("pid ")[1].split()[0])
    assert Path(f"/proc/{pid}").exists()
    return caller, pid


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_a_terminated_caller_terminates_its_command(env, tmp_path):
    caller, pid = blocked_command(env, tmp_path)
    caller.send_signal(signal.SIGTERM)
    assert caller.wait(timeout=20) == 128 + signal.SIGTERM
    assert wait_for(lambda: gone(pid))
    assert not (tmp_path / "f.json").exists()


def test_a_killed_caller_takes_its_command_along(env, tmp_path):
    caller, pid = blocked_command(env, tmp_path)
    caller.kill()  # SIGKILL: no chance to forward anything
    caller.wait(timeout=20)
    assert wait_for(lambda: gone(pid))


def test_idle_server_exits_and_removes_its_socket(env):
    env = {**env, "XLLM_PRELOAD_IDLE": "0.5"}
    assert xllm(["--help"], env).returncode == 0
    sockets = list(Path(env["TMPDIR"]).glob("xllm-preload-*/*.sock"))
    assert len(sockets) == 1
    assert wait_for(lambda: not sockets[0].exists(), timeout=20)
    assert "exiting" in server_log(env)
    assert xllm(["--help"], env).returncode == 0  # and the next command starts a new one
    assert server_log(env).count("ready:") == 2


def test_a_server_that_cannot_start_leaves_the_command_to_run_here(env, tmp_path):
    (tmp_path / "points.csv").write_text(POINTS)
    env = {**env, "XLLM_PRELOAD_MODULES": "no_such_module_xllm"}
    served = xllm(["fit", "--points", "points.csv", "--gamma", "0.5", "--out", "fit.json"], env, cwd=tmp_path)
    assert served.returncode == 0
    assert "running in this process" in served.stderr
    assert json.loads((tmp_path / "fit.json").read_text())["n_points"] == 5


def test_a_folder_others_can_enter_is_refused(env):
    folder = Path(env["TMPDIR"]) / f"xllm-preload-{os.getuid()}"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    served = xllm(["--help"], env)
    assert served.returncode == 0 and "not a private folder" in served.stderr
    assert not list(folder.iterdir())


def test_servers_are_keyed_on_the_environment_but_not_on_shell_noise():
    base = {"PATH": "/bin", "HF_HUB_OFFLINE": "1"}
    assert preload.server_key(base) == preload.server_key({**base, "PWD": "/x", "SHLVL": "3", "_": "a"})
    assert preload.server_key(base) != preload.server_key({**base, "HF_HUB_OFFLINE": "0"})


def test_enabled_only_when_asked_and_never_inside_slurm():
    assert preload.enabled({"XLLM_PRELOAD": "1"}) == sys.platform.startswith("linux")
    assert not preload.enabled({})
    assert not preload.enabled({"XLLM_PRELOAD": "1", "SLURM_JOB_ID": "12"})


def test_python_m_xllm_is_served_too_and_the_cli_never_imports_preload(env):
    served = subprocess.run(
        [sys.executable, "-m", "xllm", "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert served.returncode == 0 and served.stdout.startswith("usage: xllm")
    assert "runs: " in server_log(env)
    in_process = (
        "import sys\nfrom xllm.cli import main\nsys.argv = ['xllm', '--help']\ntry:\n    main()\n"
        "except SystemExit:\n    pass\nprint('xllm.preload' in sys.modules)"
    )
    imported = subprocess.run([sys.executable, "-c", in_process], env=env, capture_output=True, text=True, check=True)
    assert imported.stdout.splitlines()[-1] == "False"
