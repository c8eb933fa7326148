"""Optional LLM judge (off by default): the paper's ChatGPT evaluation (Appendix D).

Any OpenAI-compatible ``/chat/completions`` endpoint and model; the key comes from an environment
variable, never from a file. Two uses, with the paper's prompts verbatim:

- QA correctness: YES/NO for one answer given the context and question (``judge`` metric, %).
- Pairwise comparison (MI-Eval): two answers scored 1-10; asked in both orders so the position
  of an answer cannot decide the verdict, and each answer's two scores are averaged.

Replies are cached by request (a JSONL file), so a rerun after an interruption asks only for what
is missing and a finished run costs nothing to repeat. Temperature is 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..atomic import read_jsonl
from ..errors import UserError

QA_PROMPT = """You will be given a context followed by question. You will then be given one potential answer to the question. Your task is to tell if the answer is correct. Please make sure you read and understand these instructions carefully. Please keep this document open while reviewing, and refer to it as needed.

Evaluation Criteria: Correctness (YES or NO): Is the answer correct? YES means the answer provides an accurate and valid response that aligns with the facts, logic, and requirements of the question. The answer should be in the same language as the context. NO means otherwise.
Context: {context}
Answer: {answer}

Evaluation Form (YES or NO):"""

PAIRWISE_SYSTEM = """We would like to request your feedback on the performance of two AI assistants in response to the user question displayed above. Please rate the helpfulness, relevance, accuracy, level of details of their responses.

Each assistant receives an overall score on a scale of 1 to 10, where a higher score indicates better overall performance. Please first provide a comprehensive explanation of your evaluation, avoiding any potential bias and ensuring that the order in which the responses were presented does not affect your judgment. Then, output two lines indicating the scores for Assistant 1 and 2, respectively.

Output with the following format:
Evaluation evidence: <Explanation>
Score of the Assistant 1: <Score>
Score of the Assistant 2: <Score>"""

# The question and both answers come first ("the user question displayed above"), as in the
# Vicuna-style pairwise template the paper's prompt is taken from.
PAIRWISE_PROMPT = """[Question]
{question}

[The Start of Assistant 1's Answer]
{answer_1}

[The End of Assistant 1's Answer]

[The Start of Assistant 2's Answer]
{answer_2}

[The End of Assistant 2's Answer]

[System]
{system}"""

_YES_NO = re.compile(r"\b(YES|NO)\b", re.IGNORECASE)
_SCORE = re.compile(r"Score of (?:the )?Assistant ([12])\s*[:：]\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeConfig:
    endpoint: str  # base URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1
    model: str = "gpt-3.5-turbo"
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    retries: int = 3
    max_tokens: int = 512

    def key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if not key:
            raise UserError(f"judge: environment variable {self.api_key_env} (the API key) is not set")
        return key


class JudgeClient:
    """Chat completions with retries and a JSONL reply cache keyed by (endpoint, model, prompt)."""

    def __init__(self, config: JudgeConfig, cache: str | Path | None = None):
        if not config.endpoint:
            raise UserError("judge: no endpoint configured (eval.judge.endpoint)")
        self.config = config
        self._key = config.key()
        self.cache_path = Path(cache) if cache else None
        self.cache: dict[str, str] = {}
        self.requests = 0
        if self.cache_path and self.cache_path.is_file():
            self.cache = {row["key"]: row["reply"] for row in read_jsonl(self.cache_path)}

    def _cache_key(self, prompt: str) -> str:
        raw = json.dumps([self.config.endpoint, self.config.model, prompt], ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def ask(self, prompt: str) -> str:
        key = self._cache_key(prompt)
        if key in self.cache:
            return self.cache[key]
        reply = self._post(prompt)
        self.cache[key] = reply
        if self.cache_path:
            # Appending whole lines: an interrupted run loses at most the line being written.
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.cache_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"key": key, "reply": reply}, ensure_ascii=False) + "\n")
        return reply

    def _post(self, prompt: str) -> str:
        url = self.config.endpoint.rstrip("/") + "/chat/completions"
        body = json.dumps(
            {
                "model": self.config.model,
                "temperature": 0,
                "max_tokens": self.config.max_tokens,
                "messages": [{"role": "user", "content": prompt}],
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._key}"}
        last = None
        for attempt in range(self.config.retries + 1):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                    self.requests += 1
                    data = json.loads(response.read().decode("utf-8"))
                return data["choices"][0]["message"]["content"]
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code}"
                if err.code in (400, 401, 403, 404):
                    break  # a request or key problem: retrying will not help
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = str(getattr(err, "reason", err))
            except (KeyError, IndexError, TypeError, json.JSONDecodeError):
                last = "reply is not a chat completion"
            time.sleep(min(2**attempt, 30) * 0.5)
        raise UserError(f"judge: {url}: {last}")


def parse_yes_no(reply: str) -> bool | None:
    match = _YES_NO.search(reply)
    return None if match is None else match.group(1).upper() == "YES"


def parse_scores(reply: str) -> tuple[float, float] | None:
    found = {}
    for which, value in _SCORE.findall(reply):
        found[which] = float(value)  # the last line for each assistant wins
    if set(found) != {"1", "2"}:
        return None
    return found["1"], found["2"]


def judge_qa(client: JudgeClient, contexts: list[str], answers: list[str]) -> dict:
    """Per-item 1.0/0.0 correctness; an unreadable verdict counts as NO and is counted."""
    values, unparsed = [], 0
    for context, answer in zip(contexts, answers):
        verdict = parse_yes_no(client.ask(QA_PROMPT.format(context=context, answer=answer)))
        unparsed += verdict is None
        values.append(1.0 if verdict else 0.0)
    return {"values": values, "unparsed": unparsed}


def judge_pairwise(client: JudgeClient, questions: list[str], answers_a: list[str], answers_b: list[str]) -> dict:
    """Both orders per question; each answer's score is the mean of its two positions."""
    items, unparsed = [], 0
    for q, a, b in zip(questions, answers_a, answers_b):
        first = parse_scores(
            client.ask(PAIRWISE_PROMPT.format(question=q, answer_1=a, answer_2=b, system=PAIRWISE_SYSTEM))
        )
        second = parse_scores(
            client.ask(PAIRWISE_PROMPT.format(question=q, answer_1=b, answer_2=a, system=PAIRWISE_SYSTEM))
        )
        if first is None or second is None:
            unparsed += 1
            continue
        score_a, score_b = (first[0] + second[1]) / 2, (first[1] + second[0]) / 2
        items.append(
            {"a": score_a, "b": score_b, "verdict": "a" if score_a > score_b else "b" if score_b > score_a else "tie"}
        )
    n = len(items)
    count = {v: sum(i["verdict"] == v for i in items) for v in ("a", "b", "tie")}
    return {
        "n": n,
        "unparsed": unparsed,
        "a_wins": count["a"],
        "b_wins": count["b"],
        "ties": count["tie"],
        "a_win_rate": 100 * count["a"] / n if n else float("nan"),
        "b_win_rate": 100 * count["b"] / n if n else float("nan"),
        "tie_rate": 100 * count["tie"] / n if n else float("nan"),
        "a_mean_score": sum(i["a"] for i in items) / n if n else float("nan"),
        "b_mean_score": sum(i["b"] for i in items) / n if n else float("nan"),
        "items": items,
    }


def judge_signature(config: JudgeConfig, kind: str) -> str:
    return f"judge-{kind}|model:{config.model}|prompt:zhu2023-appendix-d|temperature:0|scale:100"


def squad_questions(path) -> dict[str, str]:
    """Question id -> what the judge reads of a SQuAD file: the context, then the question."""
    from ..data import squad

    return {
        str(qa["id"]): f"{paragraph['context']}\nQuestion: {qa['question']}"
        for paragraph, qa in squad.questions(squad.read_squad(path), str(path))
    }


def judge_qa_scores(
    client: JudgeClient,
    gen_dir,
    plan_path,
    model_id: str,
    limit: int = 100,
    n_boot: int = 1000,
    seed: int = 0,
    scored_items: list | None = None,
) -> tuple[list[dict], list[dict]]:
    """Score-table rows of the ``judge`` metric for the plan's QA items (the first ``limit``
    questions each; 0: all), as ``score.score_generations`` makes them, and per-item details.
    ``scored_items`` receives (task, direction, lang, Scored) per item: the segment statistics."""
    from ..mixture.recipes import parse_model_id
    from .generations import load_item, load_plan
    from .score import score_row
    from .scored import segment_mean

    meta = parse_model_id(model_id).columns()
    rows, details = [], []
    for item in load_plan(plan_path):
        if "testset" not in item:
            continue
        gen = load_item(gen_dir, item)
        questions = squad_questions(item["testset"])
        ids = [str(i) for i in gen.ids][: limit or None]  # the paper judges the first 100
        missing = [i for i in ids if i not in questions]
        if missing:
            raise UserError(f"{item['testset']}: no question with id {missing[0]!r}")
        verdicts = judge_qa(client, [questions[i] for i in ids], gen.hyps[: len(ids)])
        scored = segment_mean("judge", verdicts["values"], judge_signature(client.config, "qa"), scale=100.0)
        rows.append(score_row(meta, gen, "judge", scored, n_boot, seed))
        if scored_items is not None:
            scored_items.append((gen.task, gen.direction, gen.target_lang, scored))
        details.append({"task": gen.task, "direction": gen.direction, "unparsed": verdicts["unparsed"]})
    return rows, details
