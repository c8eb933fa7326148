"""The optional LLM judge against a fake OpenAI-compatible server on 127.0.0.1 (no network)."""

import csv
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from xllm.cli import main
from xllm.errors import UserError
from xllm.metrics.judge import (
    PAIRWISE_SYSTEM,
    QA_PROMPT,
    JudgeClient,
    JudgeConfig,
    judge_pairwise,
    parse_scores,
    parse_yes_no,
)

KEY = "test-key-123"


class FakeChat(BaseHTTPRequestHandler):
    """Judges like a caricature of ChatGPT: YES when the answer occurs in the context; pairwise,
    quality 9 for an answer containing "good" and 3 otherwise, plus a bias for Assistant 1."""

    position_bias = 1.0
    fail_next = 0
    seen: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeChat.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._send(401, {"error": "bad key"})
        if FakeChat.fail_next:
            FakeChat.fail_next -= 1
            return self._send(503, {"error": "busy"})
        prompt = body["messages"][0]["content"]
        if "Evaluation Form (YES or NO)" in prompt:
            context = prompt.split("Context: ", 1)[1].split("\nAnswer: ", 1)[0]
            answer = prompt.split("\nAnswer: ", 1)[1].split("\n\nEvaluation Form", 1)[0].strip()
            reply = "YES" if answer and answer in context else "NO."
        else:
            one = re.search(r"Assistant 1's Answer\]\n(.*?)\n\n\[The End", prompt, re.S).group(1)
            two = re.search(r"Assistant 2's Answer\]\n(.*?)\n\n\[The End", prompt, re.S).group(1)
            quality = lambda text: 9.0 if "good" in text else 3.0  # noqa: E731
            reply = (
                f"Evaluation evidence: fine.\n"
                f"Score of the Assistant 1: {min(10, quality(one) + FakeChat.position_bias):g}\n"
                f"Score of the Assistant 2: {quality(two):g}"
            )
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": reply}}]})

    def _send(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(monkeypatch):
    FakeChat.seen, FakeChat.fail_next, FakeChat.position_bias = [], 0, 1.0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeChat)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("XLLM_TEST_JUDGE_KEY", KEY)
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _config(endpoint, **kw):
    return JudgeConfig(endpoint=endpoint, model="fake-judge", api_key_env="XLLM_TEST_JUDGE_KEY", **kw)


def test_parsers():
    assert parse_yes_no("YES, the answer is right") is True
    assert parse_yes_no("Evaluation: no") is False
    assert parse_yes_no("maybe") is None
    assert parse_scores("...\nScore of the Assistant 1: 7\nScore of the Assistant 2: 8.5") == (7.0, 8.5)
    assert parse_scores("Score of Assistant 1: 7") is None


SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "t",
            "paragraphs": [
                {
                    "context": "Paris is the capital of France.",
                    "qas": [
                        {"id": f"q{i}", "question": f"Question {i}?", "answers": [{"text": "Paris", "answer_start": 0}]}
                        for i in range(4)
                    ],
                }
            ],
        }
    ],
}


def test_judge_qa_scores_generations_with_the_papers_prompt(server, tmp_path):
    (tmp_path / "gen" / "xquad").mkdir(parents=True)
    preds = ["Paris", "capital of France", "London", "Berlin"]
    (tmp_path / "gen" / "xquad" / "fr.jsonl").write_text(
        "".join(
            json.dumps({"id": f"q{i}", "prediction": p, "reference": ["Paris"]}) + "\n" for i, p in enumerate(preds)
        )
    )
    squad = tmp_path / "fr.json"
    squad.write_text(json.dumps(SQUAD))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"task": "xquad", "direction": "fr", "lang": "fr", "testset": str(squad)}]))
    out, cache = tmp_path / "judge.csv", tmp_path / "cache.jsonl"
    args = [
        "judge-qa",
        "--generations-dir",
        str(tmp_path / "gen"),
        "--plan",
        str(plan),
        "--model",
        "muit/800",
        "--endpoint",
        server,
        "--judge-model",
        "fake-judge",
        "--api-key-env",
        "XLLM_TEST_JUDGE_KEY",
        "--limit",
        "3",
        "--cache",
        str(cache),
        "--bootstrap",
        "50",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    (row,) = list(csv.DictReader(open(out, encoding="utf-8")))
    assert (row["metric"], row["n"], row["lang"], row["recipe"]) == ("judge", "3", "fr", "muit")
    assert float(row["value"]) == pytest.approx(200 / 3, abs=1e-3)  # first 3 only: 2 of them in the context
    assert row["signature"].startswith("judge-qa|model:fake-judge")
    first = FakeChat.seen[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == f"Bearer {KEY}"
    assert first["body"]["model"] == "fake-judge" and first["body"]["temperature"] == 0
    expected = QA_PROMPT.format(context="Paris is the capital of France.\nQuestion: Question 0?", answer="Paris")
    assert first["body"]["messages"][0]["content"] == expected
    assert len(FakeChat.seen) == 3
    assert main(args) == 0 and len(FakeChat.seen) == 3  # the rerun is answered from the cache


def test_cached_replies_with_unicode_line_separators_are_read_back_whole(server, tmp_path):
    cache = tmp_path / "cache.jsonl"
    reply = "Evaluation evidence: line one\u2028line two.\nScore of the Assistant 1: 7\nScore of the Assistant 2: 5"
    key = JudgeClient(_config(server))._cache_key("compare")
    cache.write_text(json.dumps({"key": key, "reply": reply}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert JudgeClient(_config(server), cache=cache).ask("compare") == reply and FakeChat.seen == []


def test_pairwise_asks_both_orders_and_cancels_position_bias(server):
    client = JudgeClient(_config(server))
    FakeChat.position_bias = 3.0
    tie = judge_pairwise(client, ["q1", "q2"], ["answer one", "x"], ["answer two", "y"])  # equal quality
    assert tie["ties"] == 2 and tie["a_wins"] == tie["b_wins"] == 0 and len(FakeChat.seen) == 4
    prompts = [s["body"]["messages"][0]["content"] for s in FakeChat.seen[:2]]
    assert prompts[0].endswith(PAIRWISE_SYSTEM) and prompts[0] != prompts[1]
    better = judge_pairwise(client, ["q1", "q2", "q3"], ["meh", "meh", "good one"], ["good", "good", "good too"])
    assert (better["b_wins"], better["a_wins"], better["ties"]) == (2, 0, 1)
    assert better["b_mean_score"] > better["a_mean_score"]


def test_judge_pairwise_command(server, tmp_path, capsys):
    for name, hyps in (("a", ["meh", "meh"]), ("b", ["good", "meh"])):
        d = tmp_path / name / "mieval"
        d.mkdir(parents=True)
        rows = ({"id": i, "prompt": f"Q{i}", "prediction": h, "reference": "r"} for i, h in enumerate(hyps))
        (d / "en.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "pair.json"
    assert (
        main(
            [
                "judge-pairwise",
                "--a",
                str(tmp_path / "a"),
                "--b",
                str(tmp_path / "b"),
                "--task",
                "mieval",
                "--direction",
                "en",
                "--endpoint",
                server,
                "--api-key-env",
                "XLLM_TEST_JUDGE_KEY",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert (summary["b_wins"], summary["ties"], summary["n"]) == (1, 1, 2)
    assert json.loads(out.read_text())["items"][0]["verdict"] == "b"


def test_retries_then_clear_errors(server, monkeypatch):
    FakeChat.fail_next = 1
    client = JudgeClient(_config(server, retries=2))
    assert client.ask(QA_PROMPT.format(context="Paris is here", answer="Paris")) == "YES"
    monkeypatch.setenv("XLLM_TEST_JUDGE_KEY", "wrong")
    with pytest.raises(UserError, match="HTTP 401"):
        JudgeClient(_config(server)).ask("hello")
    monkeypatch.delenv("XLLM_TEST_JUDGE_KEY")
    with pytest.raises(UserError, match="XLLM_TEST_JUDGE_KEY"):
        JudgeClient(_config(server))
