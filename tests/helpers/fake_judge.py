"""A tiny OpenAI-compatible judge on 127.0.0.1 (stdlib http.server), deterministic, for tests that
run the workflow's judge rules: QA YES when the answer occurs in the context; pairwise, 8 for an
answer that contains "good" and 4 otherwise."""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "fake-judge-key"


class Handler(BaseHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.requests.append(body)
        if self.path != "/v1/chat/completions" or self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._send(401, {"error": "bad key or path"})
        prompt = body["messages"][0]["content"]
        if "Evaluation Form (YES or NO)" in prompt:
            context = prompt.split("Context: ", 1)[1].split("\nAnswer: ", 1)[0]
            answer = prompt.split("\nAnswer: ", 1)[1].split("\n\nEvaluation Form", 1)[0].strip()
            reply = "YES" if answer and answer in context else "NO"
        else:
            one, two = re.findall(r"Assistant [12]'s Answer\]\n(.*?)\n\n\[The End", prompt, re.S)
            score = lambda text: 8 if "good" in text else 4  # noqa: E731
            reply = "Evaluation evidence: -\n"
            reply += f"Score of the Assistant 1: {score(one)}\nScore of the Assistant 2: {score(two)}"
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": reply}}]})

    def _send(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def fake_judge():
    """The server's base URL (http://127.0.0.1:PORT/v1) while the block runs."""
    Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
