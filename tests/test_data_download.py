"""Downloads against a real HTTP server on 127.0.0.1 serving fixture files written by the tests."""

import gzip
import hashlib
import http.server
import signal
import subprocess
import threading
import time

import pytest
import yaml

from xllm.data import lock as lockfile
from xllm.data.download import download
from xllm.data.sources import load_sources
from xllm.errors import UserError


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.plans: dict[str, list[str]] = {}  # per path, one action per request: ok, 500, drop, stall, 404
        self.requests: list[tuple[str, str | None]] = []
        self.release = threading.Event()

    def url(self, name):
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv: Server = self.server
        name = self.path.lstrip("/")
        srv.requests.append((name, self.headers.get("Range")))
        plan = srv.plans.get(name) or []
        action = plan.pop(0) if plan else "ok"
        data = srv.files.get(name)
        if data is None or action == "404":
            self.send_error(404)
            return
        if action == "500":
            self.send_error(500)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if action in ("drop", "stall"):  # send half, then drop the connection (or hang)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if action == "stall":
                srv.release.wait(30)
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def gz(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), mtime=0)


def payload(n=200_000) -> bytes:
    rows = "".join(f"1.1{i % 10}\tsentence {i} in English\tphrase {i} ailleurs\n" for i in range(n // 40))
    return gz(rows)


def write_sources(tmp_path, server, files: dict[str, dict]) -> str:
    doc = {"files": {}}
    for name, extra in files.items():
        doc["files"][name] = {
            "url": server.url(name) if server else f"demo://generated/{name}",
            "sha256": None,
            "corpus": "wikimatrix",
            "langs": ["en", "fr"],
            "format": "wikimatrix-tsv",
            **extra,
        }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(tmp_path, sources, name, **kw):
    kw.setdefault("backoff", 0.0)
    kw.setdefault("timeout", 5.0)
    return download(name, sources, tmp_path / "sources.lock", tmp_path / "dl" / name, log=lambda m: None, **kw)


def test_first_download_records_checksum_then_verifies(tmp_path, server):
    data = payload()
    server.files["a.tsv.gz"] = data
    sources = write_sources(tmp_path, server, {"a.tsv.gz": {}})
    assert fetch(tmp_path, sources, "a.tsv.gz") == sha(data)
    assert (tmp_path / "dl" / "a.tsv.gz").read_bytes() == data
    entry = lockfile.recorded(tmp_path / "sources.lock", "a.tsv.gz")
    assert entry == {"sha256": sha(data), "size": len(data), "url": server.url("a.tsv.gz")}
    # the source changes upstream: the lock catches it, names both hashes and the URL, keeps nothing
    server.files["a.tsv.gz"] = payload(100_000)
    (tmp_path / "dl" / "a.tsv.gz").unlink()
    with pytest.raises(UserError) as err:
        fetch(tmp_path, sources, "a.tsv.gz")
    msg = str(err.value)
    assert sha(data) in msg and sha(server.files["a.tsv.gz"]) in msg and server.url("a.tsv.gz") in msg
    assert list((tmp_path / "dl").iterdir()) == []


def test_pinned_checksum_mismatch_keeps_nothing(tmp_path, server):
    server.files["b.tsv.gz"] = payload()
    sources = write_sources(tmp_path, server, {"b.tsv.gz": {"sha256": "0" * 64}})
    with pytest.raises(UserError, match="b.tsv.gz: sha256 mismatch: expected 0{64}, got [0-9a-f]{64}"):
        fetch(tmp_path, sources, "b.tsv.gz")
    assert list((tmp_path / "dl").iterdir()) == []
    assert not (tmp_path / "sources.lock").exists()


def test_truncated_gzip_is_never_trusted(tmp_path, server):
    data = payload()
    server.files["c.tsv.gz"] = data[: len(data) // 2]  # served completely, but the gzip is cut
    sources = write_sources(tmp_path, server, {"c.tsv.gz": {}})
    with pytest.raises(UserError, match="c.tsv.gz: downloaded file is corrupt or truncated"):
        fetch(tmp_path, sources, "c.tsv.gz")
    assert list((tmp_path / "dl").iterdir()) == []
    assert lockfile.recorded(tmp_path / "sources.lock", "c.tsv.gz") is None


def test_http_500_then_success_retries(tmp_path, server):
    data = payload()
    server.files["d.tsv.gz"] = data
    server.plans["d.tsv.gz"] = ["500", "500", "ok"]
    sources = write_sources(tmp_path, server, {"d.tsv.gz": {}})
    assert fetch(tmp_path, sources, "d.tsv.gz", retries=3) == sha(data)
    assert len(server.requests) == 3


def test_retries_exhausted_and_404_are_clear_errors(tmp_path, server):
    server.files["e.tsv.gz"] = payload()
    server.plans["e.tsv.gz"] = ["500"] * 5
    sources = write_sources(tmp_path, server, {"e.tsv.gz": {}, "missing.tsv.gz": {}})
    with pytest.raises(UserError, match=r"e.tsv.gz: download from .* failed after 3 attempts \(HTTP 500\)"):
        fetch(tmp_path, sources, "e.tsv.gz", retries=2)
    with pytest.raises(UserError, match="HTTP 404"):
        fetch(tmp_path, sources, "missing.tsv.gz", retries=5)
    assert [r[0] for r in server.requests].count("missing.tsv.gz") == 1  # a 404 is not retried


def test_dropped_connection_resumes_with_range(tmp_path, server):
    data = payload()
    server.files["f.tsv.gz"] = data
    server.plans["f.tsv.gz"] = ["drop", "ok"]
    sources = write_sources(tmp_path, server, {"f.tsv.gz": {}})
    assert fetch(tmp_path, sources, "f.tsv.gz", retries=2) == sha(data)
    assert server.requests == [("f.tsv.gz", None), ("f.tsv.gz", f"bytes={len(data) // 2}-")]


def test_killed_download_is_resumed_by_the_next_run(tmp_path, server, python):
    data = payload(400_000)
    server.files["g.tsv.gz"] = data
    server.plans["g.tsv.gz"] = ["stall"]
    sources = write_sources(tmp_path, server, {"g.tsv.gz": {}})
    out = tmp_path / "dl" / "g.tsv.gz"
    part = out.with_name("g.tsv.gz.part")
    cmd = [
        python,
        "-m",
        "xllm",
        "download",
        "--file",
        "g.tsv.gz",
        "--sources",
        sources,
        "--lock",
        str(tmp_path / "sources.lock"),
        "--out",
        str(out),
        "--retries",
        "0",
        "--timeout",
        "30",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not (part.exists() and part.stat().st_size >= len(data) // 2) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and part.stat().st_size == len(data) // 2
    assert fetch(tmp_path, sources, "g.tsv.gz") == sha(data)
    assert server.requests[-1] == ("g.tsv.gz", f"bytes={len(data) // 2}-")
    assert out.read_bytes() == data and not part.exists()


def test_mirror_copy_is_verified_like_a_download(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    data = payload()
    (mirror / "h.tsv.gz").write_bytes(data)
    sources = write_sources(tmp_path, None, {"h.tsv.gz": {}, "gone.tsv.gz": {}})
    assert fetch(tmp_path, sources, "h.tsv.gz", mirror=mirror) == sha(data)
    assert lockfile.recorded(tmp_path / "sources.lock", "h.tsv.gz")["sha256"] == sha(data)
    # the mirror's copy changes: it is checked against the lock
    (mirror / "h.tsv.gz").write_bytes(payload(100_000))
    with pytest.raises(UserError, match=f"expected {sha(data)}"):
        fetch(tmp_path, sources, "h.tsv.gz", mirror=mirror)
    # a file missing from the mirror: the error names it and its checksum (or that none is known)
    missing = r"gone.tsv.gz: missing from the mirror; expected file 'gone.tsv.gz' with sha256 \(none"
    with pytest.raises(UserError, match=missing):
        fetch(tmp_path, sources, "gone.tsv.gz", mirror=mirror)
    lockfile.record(tmp_path / "sources.lock", "gone.tsv.gz", "a" * 64, 1, "demo://x")
    with pytest.raises(UserError, match="with sha256 a{64}"):
        fetch(tmp_path, sources, "gone.tsv.gz", mirror=mirror)


def test_demo_urls_need_a_mirror(tmp_path):
    sources = write_sources(tmp_path, None, {"i.tsv.gz": {}})
    with pytest.raises(UserError, match="exists only in a local mirror"):
        fetch(tmp_path, sources, "i.tsv.gz")


def test_lock_refuses_to_overwrite_and_keeps_entries(tmp_path):
    path = tmp_path / "sources.lock"
    lockfile.record(path, "x", "a" * 64, 1, "u1")
    lockfile.record(path, "y", "b" * 64, 2, "u2")
    lockfile.record(path, "x", "a" * 64, 1, "u1")  # same checksum again: fine
    with pytest.raises(UserError, match="already records sha256 a{64}"):
        lockfile.record(path, "x", "c" * 64, 1, "u1")
    assert sorted(yaml.safe_load(path.read_text())["files"]) == ["x", "y"]


def test_concurrent_lock_writers_lose_nothing(tmp_path):
    path = tmp_path / "sources.lock"
    threads = [threading.Thread(target=lockfile.record, args=(path, f"f{i}", f"{i:064x}", i, "u")) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(yaml.safe_load(path.read_text())["files"]) == 16


def test_cli_error_is_one_line(tmp_path, server, python):
    server.files["j.tsv.gz"] = payload()
    sources = write_sources(tmp_path, server, {"j.tsv.gz": {"sha256": "1" * 64}})
    out = subprocess.run(
        [
            python,
            "-m",
            "xllm",
            "download",
            "--file",
            "j.tsv.gz",
            "--sources",
            sources,
            "--lock",
            str(tmp_path / "l.lock"),
            "--out",
            str(tmp_path / "o"),
            "--backoff",
            "0",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.startswith("xllm download: error")]
    assert len(lines) == 1 and "sha256 mismatch" in lines[0] and "Traceback" not in out.stderr


def test_real_sources_file_is_complete_and_pins_xquad(repo):
    sources = load_sources(repo / "workflow" / "sources.yaml")
    by_corpus = {}
    for src in sources.values():
        by_corpus.setdefault(src.corpus, []).append(src)
        assert src.url.startswith("https://")
    wm = {lang for s in by_corpus["wikimatrix"] for lang in s.langs} - {"en"}
    assert wm == {"ar", "el", "hi", "tr", "vi", "zh"}
    assert {lang for s in by_corpus["news-commentary"] for lang in s.langs} - {"en"} == {"ar", "hi", "zh"}
    xquad = {s.langs[0]: s for s in by_corpus["xquad"]}
    assert set(xquad) == {"en", "ar", "el", "hi", "tr", "vi", "zh"}
    assert all(s.sha256 and s.size for s in xquad.values())
    assert xquad["en"].sha256 == "e4c57d1c9143aaa1c5d265ba5987a65f4e69528d2a98f29d6e75019b10344f29"
    assert {"alpaca", "flores", "mlqa", "spm"} <= set(by_corpus)


def test_sources_file_errors_name_the_key(tmp_path):
    bad = tmp_path / "s.yaml"
    entry = {"url": "u", "corpus": "wikimatrix", "langs": ["en"], "format": "nope"}
    bad.write_text(yaml.safe_dump({"files": {"x.gz": entry}}))
    with pytest.raises(UserError, match=r"files.x.gz.format: 'nope' is not one of"):
        load_sources(bad)
    bad.write_text(
        yaml.safe_dump(
            {"files": {"x.gz": {"url": "u", "corpus": "wikimatrix", "langs": ["en"], "format": "tsv", "sha256": "abc"}}}
        )
    )
    with pytest.raises(UserError, match="files.x.gz.sha256: 'abc' is not 64"):
        load_sources(bad)
