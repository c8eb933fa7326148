"""Every bad input a new user tried is refused with one line naming the file (and line where
there is one), a non-zero exit, and nothing written (issue: inputs refused cleanly)."""

from __future__ import annotations

import json

import pytest

from xllm.cli import main

SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "t",
            "paragraphs": [
                {
                    "context": "Paris is in France.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Where is Paris?",
                            "answers": [{"text": "France", "answer_start": 12}],
                        },
                        {"id": "q2", "question": "What is Paris?", "answers": [{"text": "a city", "answer_start": 0}]},
                    ],
                }
            ],
        }
    ],
}


def _write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def _jsonl(rows):
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def _laws(tmp_path, max_pairs=1000):
    law = {"alpha": 60.0, "beta": -0.3, "gamma": 0.5, "max_pairs": max_pairs}
    return _write(tmp_path / "laws.json", json.dumps({"ar": law, "hi": {**law, "beta": -0.2}}))


def _points(tmp_path, rows):
    return _write(tmp_path / "points.csv", "pairs,score\n" + "".join(f"{p},{s}\n" for p, s in rows))


def score_mt(hyp, ref, lang="de", metric="bleu"):
    return ["score-mt", "--hyp", hyp, "--ref", ref, "--lang", lang, "--metric", metric]


def score_qa(preds, refs, lang="en"):
    return ["score-qa", "--predictions", preds, "--references", refs, "--lang", lang]


CASES = [
    # name, build(tmp_path) -> argv, words the one line must hold
    (
        "score-mt empty files",
        lambda d: score_mt(_write(d / "h.txt", ""), _write(d / "r.txt", "")),
        ["h.txt", "no lines"],
    ),
    (
        "score-mt non-UTF-8",
        lambda d: score_mt(_write(d / "h.txt", b"ok\n\xff\xfe\n"), _write(d / "r.txt", "a\nb\n")),
        ["h.txt", "line 2", "UTF-8"],
    ),
    ("score-mt a directory as --hyp", lambda d: score_mt(str(d), _write(d / "r.txt", "a\n")), ["is a directory"]),
    (
        "score-mt unknown language",
        lambda d: score_mt(_write(d / "h.txt", "a\n"), _write(d / "r.txt", "a\n"), "qq"),
        ["--lang", "'qq'"],
    ),
    (
        "score-qa non-UTF-8",
        lambda d: score_qa(
            _write(d / "p.jsonl", b'{"id": "q1", "prediction": "\xff"}\n'), _write(d / "s.json", json.dumps(SQUAD))
        ),
        ["p.jsonl", "line 1", "UTF-8"],
    ),
    (
        "score-qa duplicate ids",
        lambda d: score_qa(
            _write(
                d / "p.jsonl",
                _jsonl(
                    [
                        {"id": "q1", "prediction": "France"},
                        {"id": "q2", "prediction": "a city"},
                        {"id": "q1", "prediction": "Lyon"},
                    ]
                ),
            ),
            _write(d / "s.json", json.dumps(SQUAD)),
        ),
        ["p.jsonl", "line 3", "'q1'", "twice"],
    ),
    (
        "score-qa null prediction",
        lambda d: score_qa(
            _write(d / "p.jsonl", _jsonl([{"id": "q1", "prediction": None}, {"id": "q2", "prediction": "a city"}])),
            _write(d / "s.json", json.dumps(SQUAD)),
        ),
        ["p.jsonl", "line 1", "prediction"],
    ),
    (
        "score-qa SQuAD file without questions",
        lambda d: score_qa(_write(d / "p.jsonl", ""), _write(d / "s.json", json.dumps({"version": "1.1", "data": []}))),
        ["s.json", "no questions"],
    ),
    (
        "score-qa bad JSON line",
        lambda d: score_qa(
            _write(d / "p.jsonl", _jsonl([{"id": "q1", "prediction": "x"}, "{not json"])),
            _write(d / "s.json", json.dumps(SQUAD)),
        ),
        ["p.jsonl", "line 2", "not JSON"],
    ),
    (
        "fit: two distinct scales repeated",
        lambda d: [
            "fit",
            "--points",
            _points(d, [(100, 20), (100, 21), (200, 30), (200, 31)]),
            "--gamma",
            "0.5",
            "--out",
            str(d / "out.json"),
        ],
        ["points.csv", "3 distinct", "2"],
    ),
    (
        "fit: negative scores",
        lambda d: [
            "fit",
            "--points",
            _points(d, [(100, -20), (200, 30), (400, 40)]),
            "--gamma",
            "0.5",
            "--out",
            str(d / "out.json"),
        ],
        ["points.csv", "line 2", "0", "100"],
    ),
    (
        "fit: negative bootstrap",
        lambda d: [
            "fit",
            "--points",
            _points(d, [(100, 20), (200, 30), (400, 40)]),
            "--gamma",
            "0.5",
            "--bootstrap",
            "-5",
            "--out",
            str(d / "out.json"),
        ],
        ["--bootstrap", "-5"],
    ),
    (
        "allocate: max_pairs 1e30",
        lambda d: ["allocate", "--laws", _laws(d, 1e30), "--budget", "2000", "--out", str(d / "out.json")],
        ["laws.json", "max_pairs"],
    ),
    (
        "allocate: budget 1e25",
        lambda d: ["allocate", "--laws", _laws(d), "--budget", "1e25", "--out", str(d / "out.json")],
        ["--budget"],
    ),
    (
        "allocate: budget 0",
        lambda d: ["allocate", "--laws", _laws(d), "--budget", "0", "--out", str(d / "out.json")],
        ["--budget", "0"],
    ),
    (
        "allocate: budget 1",
        lambda d: ["allocate", "--laws", _laws(d), "--budget", "1", "--out", str(d / "out.json")],
        ["budget 1"],
    ),
]


@pytest.mark.parametrize("build, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_one_line_and_nothing_written(tmp_path, capsys, build, words):
    argv = build(tmp_path)
    before = {p.name for p in tmp_path.iterdir()}
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)
    assert {p.name for p in tmp_path.iterdir()} == before  # nothing written
