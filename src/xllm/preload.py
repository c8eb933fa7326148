"""Run ``xllm`` commands in processes forked from a server that has already imported torch.

Why: a laptop run of the demo has ~40 model jobs of a few seconds each, and each spends ~7 s of
CPU importing torch and transformers before doing anything. With ``XLLM_PRELOAD=1`` (the workflow
exports it when the config says ``preload_imports: true``) the ``xllm`` command hands its argv to
a per-user server that imported them once, and the server forks one child per command. The child
takes over the caller's stdin/stdout/stderr, working directory, umask, environment and argv, so
logs, outputs and exit status are those of a direct run; the caller forwards SIGINT/SIGTERM/SIGHUP
to it, and the child kills itself when the caller goes away, so Snakemake can still stop a job.

A server is keyed on the interpreter and the whole environment (libraries read variables such as
``HF_HUB_OFFLINE`` when imported, so a job may only reuse a server started with its environment),
lives in a private 0700 folder, and exits once idle for ``XLLM_PRELOAD_IDLE`` seconds (default 60).
Anything that fails before the command starts makes the caller run the command itself. Linux only
(fork after importing torch is not safe on macOS) and never inside a Slurm job (a server started by
one job would run the next job's command inside the first job's cgroup).
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import importlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from .atomic import current_umask

MODULES = (
    "torch",
    "transformers",
    "transformers.models.auto.modeling_auto",
    "transformers.models.llama.modeling_llama",
    "transformers.loss.loss_utils",
    "transformers.tokenization_utils_fast",
)
VOLATILE = {"_", "PWD", "OLDPWD", "SHLVL"}  # differ between shells, read by no library
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
START_TIMEOUT_S = 300.0
_LEN = struct.Struct("!Q")


def enabled(env=os.environ) -> bool:
    return env.get("XLLM_PRELOAD") == "1" and sys.platform.startswith("linux") and "SLURM_JOB_ID" not in env


def modules(env=os.environ) -> list[str]:
    listed = env.get("XLLM_PRELOAD_MODULES")
    return [m for m in listed.split(",") if m] if listed is not None else list(MODULES)


def idle_seconds(env=os.environ) -> float:
    return float(env.get("XLLM_PRELOAD_IDLE", "60"))


def server_key(env=os.environ) -> str:
    stable = sorted((k, v) for k, v in env.items() if k not in VOLATILE)
    return hashlib.sha256(json.dumps([sys.executable, stable]).encode()).hexdigest()[:16]


def private_dir() -> Path:
    """A 0700 folder of this user's: nobody else can plant a server there or read its requests."""
    path = Path(tempfile.gettempdir()) / f"xllm-preload-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if not path.is_dir() or path.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path} is not a private folder of this user")
    return path


def socket_path(env=os.environ) -> Path:
    return private_dir() / f"{server_key(env)}.sock"


# --- the caller -------------------------------------------------------------------------------


def main() -> int:
    """The ``xllm`` command: run by a preloaded server where enabled and reachable, else here."""
    if enabled():
        code = run(sys.argv)
        if code is not None:
            return code
    from .cli import main as run_here

    return run_here()


def run(argv: list[str]) -> int | None:
    """Exit status of ``argv`` run by a preloaded server; None if it could not be started there."""
    try:
        sock = _connect_or_spawn(socket_path())
    except OSError as err:
        print(f"xllm: preload server unavailable ({err}); running in this process", file=sys.stderr)
        return None
    with sock:
        request = json.dumps(
            {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ), "umask": current_umask()}
        ).encode()
        try:
            socket.send_fds(sock, [_LEN.pack(len(request))], [0, 1, 2])
            sock.sendall(request)
            reply = sock.makefile("rb")
            started = reply.readline()
        except OSError:
            started = b""
        if not started:
            return None  # the command never started: run it here instead
        pid = json.loads(started)["pid"]
        received: list[int] = []

        def forward(signum, _frame):
            received.append(signum)
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

        for signum in FORWARDED:
            signal.signal(signum, forward)
        finished = reply.readline()
    if finished:
        return int(json.loads(finished)["exit"])
    if received:
        return 128 + received[-1]
    print(f"xllm: the command's process (pid {pid}) died without an exit status", file=sys.stderr)
    return 1


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def _connect_or_spawn(path: Path) -> socket.socket:
    try:
        return _connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one caller starts the server; the others wait for it
        try:
            return _connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            path.unlink(missing_ok=True)  # left by a server that was killed
        with open(path.with_suffix(".log"), "ab") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "xllm.preload", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=path.parent,  # sys.path[0] of `-m`: a folder without modules
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise ConnectionRefusedError(f"server exited with {server.returncode}, see {path.with_suffix('.log')}")
            try:
                return _connect(path)
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        server.kill()
        raise TimeoutError(f"server did not start in {START_TIMEOUT_S:.0f} s")


# --- the server -------------------------------------------------------------------------------


def serve(path: Path) -> None:
    started = time.monotonic()
    for name in modules():
        importlib.import_module(name)
    _log(f"ready: imported {', '.join(modules()) or 'nothing'} in {time.monotonic() - started:.1f} s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
    server.settimeout(0.5)
    children: set[int] = set()
    last = time.monotonic()
    served = 0
    try:
        while True:
            _reap(children)
            try:
                conn, _ = server.accept()
            except TimeoutError:
                if not children and time.monotonic() - last > idle_seconds():
                    break
                continue
            served += 1
            pid = os.fork()
            if pid == 0:
                server.close()
                os._exit(_child(conn))
            conn.close()
            children.add(pid)
            last = time.monotonic()
    finally:
        path.unlink(missing_ok=True)  # new callers start a new server; queued ones run in-process
        server.close()
        _log(f"idle for {idle_seconds():.0f} s after {served} commands: exiting")


def _reap(children: set[int]) -> None:
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)
            _log(f"pid {pid} exited with {os.waitstatus_to_exitcode(status)}")


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} xllm preload[{os.getpid()}]: {message}", flush=True)


def _child(conn: socket.socket) -> int:
    """Become the caller's command; returns its exit status (the caller gets it over ``conn``)."""
    for signum in FORWARDED:
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    conn.settimeout(None)
    try:
        head, fds, _, _ = socket.recv_fds(conn, _LEN.size, 3)
        request = json.loads(_read_exactly(conn, _LEN.unpack(head)[0]))
        _log(f"pid {os.getpid()} runs: {' '.join(request['argv'])}")
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdout.reconfigure(line_buffering=os.isatty(1))
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    except Exception:
        traceback.print_exc()
        return 1
    finished = threading.Event()
    threading.Thread(target=_die_with_caller, args=(conn, finished), daemon=True).start()
    code = _main(sys.argv[1:])
    finished.set()
    try:
        conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
    except OSError:
        pass
    return code


def _main(args: list[str]) -> int:
    """The command as ``python -m xllm`` would run it, exit handlers included."""
    try:
        from xllm.cli import main

        code = main(args)
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


def _die_with_caller(conn: socket.socket, finished: threading.Event) -> None:
    """The caller never writes again: end of file means it was killed, so the command stops too."""
    try:
        while conn.recv(1):
            pass
    except OSError:
        pass
    if not finished.is_set():
        os.kill(os.getpid(), signal.SIGTERM)


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("request cut short")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
