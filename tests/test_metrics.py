"""Metrics: QA normalization per language, sacrebleu parity with its own command line, bootstrap,
and the score-generations / gather-scores / score-mt / score-qa commands on hand-made files."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xllm.cli import main
from xllm.metrics import qa, registry, segments
from xllm.metrics.bootstrap import confidence_interval, paired_bootstrap, resample_counts
from xllm.metrics.compare import compare_generations
from xllm.metrics.score import COLUMNS
from xllm.metrics.scored import segment_mean

SACREBLEU = str(Path(sys.executable).with_name("sacrebleu"))

REFS = [
    "The cat sat on the mat in the afternoon sun.",
    "A quick brown fox jumps over the lazy dog.",
    "It rained all day, so we stayed inside and read books.",
    "The meeting was moved to Thursday at ten o'clock.",
    "She plays the violin in a small orchestra.",
    "Prices rose sharply after the announcement.",
    "He forgot his keys at the office again.",
    "Children were playing football in the park.",
]
HYPS_GOOD = [
    "The cat sat on the mat in the afternoon sun.",
    "A quick brown fox jumped over the lazy dog.",
    "It rained all day so we stayed inside reading books.",
    "The meeting moved to Thursday at ten.",
    "She plays violin in a small orchestra.",
    "Prices rose sharply after the announcement.",
    "He forgot his keys at the office.",
    "Children played football in the park.",
]
HYPS_BAD = [
    "Cat on mat.",
    "A fox and a dog.",
    "Rain, we read.",
    "Meeting Thursday.",
    "She violin.",
    "Prices went up.",
    "Keys forgotten.",
    "Kids in park.",
]
ZH_REFS = ["我们明天去北京。", "今天天气很好，我们去公园吧。", "他在图书馆看书。"]
ZH_HYPS = ["我们明天去北京", "今天天气好，去公园。", "他在家看书。"]


# --- QA normalization: hand-made cases for every language -------------------------------------


@pytest.mark.parametrize(
    "lang, prediction, gold, em, f1, contains",
    [
        ("en", "The Eiffel Tower!", "eiffel tower", 1, 1, 1),
        ("en", "It is the Eiffel Tower in Paris.", "Eiffel Tower", 0, 0.5, 1),  # "the" dropped: 2 of 6
        ("en", "towers", "tower", 0, 0, 0),  # whole tokens only, for EM, F1 and contains
        # Arabic: the official script removes every "ال" (article), also inside words.
        ("ar", "الكتاب", "كتاب", 1, 1, 1),
        ("ar", "ذهب إلى المدرسة", "مدرسة", 0, 0.5, 1),
        ("ar", "«القاهرة»", "قاهرة", 1, 1, 1),  # Unicode quotation marks are punctuation
        # Chinese: mixed segmentation, one token per character, full-width punctuation dropped.
        ("zh", "北京大学。", "北京大学", 1, 1, 1),
        ("zh", "答案是北京", "北京", 0, 2 * (2 / 5) / (2 / 5 + 1), 1),
        ("zh", "上海", "北京", 0, 0, 0),
        ("zh", "iPhone 手机", "iphone手机", 1, 1, 1),
        # Greek and Turkish (XQuAD only): whitespace tokens, no article rule.
        ("el", "Η Αθήνα.", "η αθήνα", 1, 1, 1),
        ("el", "στην Αθήνα", "Αθήνα", 0, 2 / 3, 1),
        ("tr", "İstanbul'da", "istanbulda", 1, 1, 1),  # Turkish dotted capital I lower-cases to i
        ("tr", "Ankara şehri", "ankara", 0, 2 / 3, 1),
        # Hindi: no articles; the danda is punctuation.
        ("hi", "भारत।", "भारत", 1, 1, 1),
        ("hi", "नई दिल्ली भारत", "नई दिल्ली", 0, 0.8, 1),
        # Vietnamese: MLQA's article list ("cái", "những", ...).
        ("vi", "cái bàn", "bàn", 1, 1, 1),
        ("vi", "Hà Nội, Việt Nam", "Hà Nội", 0, 2 * 0.5 / 1.5, 1),
        # A demo language: whitespace tokens, no articles.
        ("near", "The gato.", "gato", 0, 2 / 3, 1),
    ],
)
def test_qa_metrics_per_language(lang, prediction, gold, em, f1, contains):
    assert qa.exact_match(prediction, gold, lang) == em
    assert qa.f1(prediction, gold, lang) == pytest.approx(f1)
    assert qa.contains(prediction, gold, lang) == contains


def test_qa_takes_best_over_gold_answers_and_scales_to_100():
    scored = registry.compute("em", ["Paris", "Lyon", "nothing"], [["Rome", "Paris"], ["lyon"], ["Nice"]], lang="en")
    assert scored.score == pytest.approx(200 / 3)
    assert scored.n == 3
    assert "lang:en" in scored.signature and "norm:mlqa-v1" in scored.signature


def test_mixed_segmentation_matches_official_behaviour():
    assert qa.mixed_segmentation("我爱NLP research！") == ["我", "爱", "NLP", "research", "！"]


# --- sacrebleu parity with its own command line -------------------------------------------------


def _write(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _sacrebleu_cli(ref, hyp, *args, env=None) -> float:
    out = subprocess.run(
        [SACREBLEU, str(ref), "-i", str(hyp), "-b", "-w", "6", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(out.stdout.strip())


def _score_mt(capsys, *args) -> dict:
    assert main(["score-mt", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "metric, cli_args",
    [
        ("bleu", ["-m", "bleu"]),
        ("chrf", ["-m", "chrf"]),
        ("chrf++", ["-m", "chrf", "--chrf-word-order", "2"]),
    ],
)
def test_bleu_and_chrf_equal_the_sacrebleu_command_line(tmp_path, capsys, metric, cli_args):
    ref, hyp = _write(tmp_path / "ref.txt", REFS), _write(tmp_path / "hyp.txt", HYPS_GOOD)
    ours = _score_mt(capsys, "--hyp", str(hyp), "--ref", str(ref), "--lang", "en", "--metric", metric)
    assert ours["score"] == pytest.approx(_sacrebleu_cli(ref, hyp, *cli_args), abs=1e-5)
    assert set(ours) == {"metric", "score", "n", "signature"} and ours["n"] == len(REFS)
    assert ours["signature"].startswith("nrefs:1|case:mixed") and "version:2." in ours["signature"]


def test_bleu_uses_the_chinese_tokenizer_for_chinese(tmp_path, capsys):
    ref, hyp = _write(tmp_path / "ref.zh", ZH_REFS), _write(tmp_path / "hyp.zh", ZH_HYPS)
    ours = _score_mt(capsys, "--hyp", str(hyp), "--ref", str(ref), "--lang", "zh", "--metric", "bleu")
    assert "tok:zh" in ours["signature"]
    assert ours["score"] == pytest.approx(_sacrebleu_cli(ref, hyp, "-m", "bleu", "-tok", "zh"), abs=1e-5)


def _tiny_spm(path: Path) -> Path:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(REFS * 5 + ZH_REFS * 5),
        model_writer=model,
        vocab_size=120,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.getvalue())
    return path


def test_spbleu_reads_a_local_model_and_equals_sacrebleu_flores101(tmp_path, capsys):
    # sacrebleu's CLI looks for the flores101 model in $SACREBLEU/models; put our tiny one there
    # so the CLI (which would otherwise download it) and our local-path loader use the same file.
    home = tmp_path / "sacrebleu-home"
    spm_file = _tiny_spm(home / "models" / "sacrebleu_tokenizer_spm.model")
    ref, hyp = _write(tmp_path / "ref.txt", REFS), _write(tmp_path / "hyp.txt", HYPS_GOOD)
    ours = _score_mt(
        capsys, "--hyp", str(hyp), "--ref", str(ref), "--lang", "en", "--metric", "spbleu", "--model", str(spm_file)
    )
    env = {"SACREBLEU": str(home), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    theirs = _sacrebleu_cli(ref, hyp, "-m", "bleu", "-tok", "flores101", env=env)
    assert ours["score"] == pytest.approx(theirs, abs=1e-5)
    assert "tok:flores101" in ours["signature"]
    assert ours["score"] != pytest.approx(
        _score_mt(capsys, "--hyp", str(hyp), "--ref", str(ref), "--lang", "en", "--metric", "bleu")["score"]
    )


def test_spbleu_without_a_model_is_a_one_line_error(tmp_path, capsys):
    ref, hyp = _write(tmp_path / "ref.txt", REFS), _write(tmp_path / "hyp.txt", HYPS_GOOD)
    assert main(["score-mt", "--hyp", str(hyp), "--ref", str(ref), "--lang", "en", "--metric", "spbleu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--spm-model" in err and "\n" not in err
    assert (
        main(
            [
                "score-mt",
                "--hyp",
                str(hyp),
                "--ref",
                str(ref),
                "--lang",
                "en",
                "--metric",
                "spbleu",
                "--model",
                str(tmp_path / "missing.spm"),
            ]
        )
        == 2
    )
    assert "missing.spm" in capsys.readouterr().err


def test_score_mt_rejects_files_of_different_lengths(tmp_path, capsys):
    ref, hyp = _write(tmp_path / "ref.txt", REFS), _write(tmp_path / "hyp.txt", HYPS_GOOD[:-1])
    assert main(["score-mt", "--hyp", str(hyp), "--ref", str(ref), "--lang", "en", "--metric", "bleu"]) == 2
    assert "hyp.txt: 7 lines but" in capsys.readouterr().err


# --- bootstrap ------------------------------------------------------------------------------------


def test_resample_counts_are_seeded_multiplicities():
    counts = resample_counts(10, 50, seed=3)
    assert counts.shape == (50, 10) and (counts.sum(axis=1) == 10).all()
    assert np.array_equal(counts, resample_counts(10, 50, seed=3))
    assert not np.array_equal(counts, resample_counts(10, 50, seed=4))


def test_bootstrap_of_a_mean_matches_direct_resampling():
    values = np.random.default_rng(0).random(30)
    scored = segment_mean("x", values, "sig", scale=100.0)
    counts = resample_counts(30, 200, seed=1)
    direct = np.array([np.repeat(values, c.astype(int)).mean() * 100 for c in counts])
    assert np.allclose(scored.resampled(counts), direct)
    low, high = confidence_interval(scored, 200, seed=1)
    assert low < scored.score < high
    assert (low, high) == pytest.approx(tuple(np.percentile(direct, [2.5, 97.5])))


def test_corpus_bleu_bootstrap_resamples_sufficient_statistics():
    scored = registry.compute("bleu", HYPS_GOOD, REFS, lang="en")
    counts = resample_counts(len(REFS), 5, seed=0)
    from sacrebleu.metrics import BLEU

    for row, value in zip(counts, scored.resampled(counts)):
        idx = np.repeat(np.arange(len(REFS)), row.astype(int))
        expected = BLEU().corpus_score([HYPS_GOOD[i] for i in idx], [[REFS[i] for i in idx]]).score
        assert value == pytest.approx(expected)


def test_paired_bootstrap_finds_a_real_difference_and_not_a_fake_one():
    good = registry.compute("chrf", HYPS_GOOD, REFS)
    bad = registry.compute("chrf", HYPS_BAD, REFS)
    result = paired_bootstrap(bad, good, n_boot=500, seed=0)
    assert result["delta"] == pytest.approx(good.score - bad.score) and result["delta"] > 0
    assert result["p_value"] < 0.1 and result["significant"]
    same = paired_bootstrap(good, registry.compute("chrf", HYPS_GOOD, REFS), n_boot=500, seed=0)
    assert same["delta"] == 0 and same["p_value"] > 0.1 and not same["significant"]


# --- score-generations, gather-scores, compare -----------------------------------------------------

SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "t",
            "paragraphs": [
                {
                    "context": "Paris is the capital of France. Berlin is the capital of Germany.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Capital of France?",
                            "answers": [{"text": "Paris", "answer_start": 0}],
                        },
                        {
                            "id": "q2",
                            "question": "Capital of Germany?",
                            "answers": [{"text": "Berlin", "answer_start": 32}],
                        },
                        {
                            "id": "q3",
                            "question": "Which country has Berlin?",
                            "answers": [{"text": "Germany", "answer_start": 57}],
                        },
                    ],
                }
            ],
        }
    ],
}


def _generations(root: Path, hyps, qa_preds) -> Path:
    (root / "flores").mkdir(parents=True)
    (root / "xquad").mkdir()
    with open(root / "flores" / "en-de.jsonl", "w", encoding="utf-8") as f:
        for i, (h, r) in enumerate(zip(hyps, REFS)):
            f.write(
                json.dumps(
                    {"id": i, "prompt": "p", "prediction": h, "n_prompt_tokens": 3, "n_new_tokens": 4, "reference": r}
                )
                + "\n"
            )
    with open(root / "xquad" / "de.jsonl", "w", encoding="utf-8") as f:
        for qid, pred in qa_preds.items():
            gold = [
                a["text"]
                for p in SQUAD["data"][0]["paragraphs"]
                for q in p["qas"]
                if q["id"] == qid
                for a in q["answers"]
            ]
            f.write(json.dumps({"id": qid, "prompt": "p", "prediction": pred, "reference": gold}) + "\n")
    return root


@pytest.fixture
def scoring_inputs(tmp_path):
    src, ref = _write(tmp_path / "en.txt", HYPS_BAD), _write(tmp_path / "de.txt", REFS)
    squad = tmp_path / "de.json"
    squad.write_text(json.dumps(SQUAD), encoding="utf-8")
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            [
                {
                    "task": "flores",
                    "direction": "en-de",
                    "src_lang": "en",
                    "tgt_lang": "de",
                    "lang": "de",
                    "source": str(src),
                    "reference": str(ref),
                },
                {"task": "xquad", "direction": "de", "lang": "de", "testset": str(squad)},
            ]
        ),
        encoding="utf-8",
    )
    gen_a = _generations(tmp_path / "gen-a", HYPS_BAD, {"q1": "Paris.", "q2": "It is Berlin", "q3": "France"})
    gen_b = _generations(tmp_path / "gen-b", HYPS_GOOD, {"q1": "Paris", "q2": "Berlin", "q3": "Germany"})
    return tmp_path, plan, gen_a, gen_b


def _read_csv(path):
    with open(path, encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_score_generations_writes_the_long_table_with_provenance(scoring_inputs, capsys):
    root, plan, gen_a, _ = scoring_inputs
    out = root / "scores" / "coit" / "de" / "100.csv"
    args = [
        "score-generations",
        "--generations-dir",
        str(gen_a),
        "--plan",
        str(plan),
        "--model",
        "coit/de/100",
        "--mt-metrics",
        "bleu,chrf",
        "--qa-metrics",
        "em,f1,contains",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    header, rows = _read_csv(out)
    assert tuple(header) == COLUMNS
    by_metric = {(r["task"], r["metric"]): r for r in rows}
    assert set(by_metric) == {
        ("flores", "bleu"),
        ("flores", "chrf"),
        ("xquad", "em"),
        ("xquad", "f1"),
        ("xquad", "contains"),
    }
    em = by_metric[("xquad", "em")]
    model_columns = (em["model"], em["recipe"], em["lang"], em["scale"], em["budget"], em["alloc"])
    assert model_columns == ("coit/de/100", "coit", "de", "100", "", "")
    assert float(em["value"]) == pytest.approx(100 / 3, abs=1e-3) and em["n"] == "3"
    assert float(by_metric[("xquad", "contains")]["value"]) == pytest.approx(200 / 3, abs=1e-3)
    chrf = by_metric[("flores", "chrf")]
    assert float(chrf["value"]) == pytest.approx(registry.compute("chrf", HYPS_BAD, REFS).score, abs=1e-4)
    assert chrf["ci_low"] == chrf["ci_high"] == ""  # intervals are gathering's (its --bootstrap)
    assert chrf["signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6")
    sidecar = json.loads(Path(f"{out}.json").read_text())
    assert "git_commit" in sidecar["provenance"]
    assert chrf["signature"] in sidecar["provenance"]["signatures"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["100.csv", "100.csv.json", "100.segments.npz"]
    first = out.read_text()
    assert main(args) == 0
    assert out.read_text() == first

    # The stored segment statistics give back each corpus score, and gathering bootstraps them.
    stats = segments.load(segments.segments_path(out))
    for (task, metric), row in by_metric.items():
        scored = stats[(task, row["direction"], metric)]
        assert scored.score == pytest.approx(float(row["value"]), abs=1e-3)
    gathered = root / "all.csv"
    assert (
        main(["gather-scores", "--inputs", str(out), "--bootstrap", "100", "--seed", "7", "--out", str(gathered)]) == 0
    )
    chrf_all = next(r for r in _read_csv(gathered)[1] if r["metric"] == "chrf")
    low, high = confidence_interval(registry.compute("chrf", HYPS_BAD, REFS), 100, 7)
    assert (float(chrf_all["ci_low"]), float(chrf_all["ci_high"])) == (
        pytest.approx(low, abs=1e-4),
        pytest.approx(high, abs=1e-4),
    )
    assert json.loads(Path(f"{gathered}.json").read_text())["bootstrap"] == 100


def test_score_generations_errors_are_one_line(scoring_inputs, capsys):
    root, plan, gen_a, _ = scoring_inputs
    (gen_a / "xquad" / "de.jsonl").unlink()
    out = root / "x.csv"
    code = main(
        [
            "score-generations",
            "--generations-dir",
            str(gen_a),
            "--plan",
            str(plan),
            "--model",
            "muit/800",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "de.jsonl: no generations for plan item xquad/de" in err and "\n" not in err
    assert not out.exists()
    assert (
        main(
            [
                "score-generations",
                "--generations-dir",
                str(gen_a),
                "--plan",
                str(plan),
                "--model",
                "muit/800",
                "--mt-metrics",
                "em",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "is a qa metric" in capsys.readouterr().err


def test_gather_scores_concatenates_sorts_and_checks(scoring_inputs, capsys):
    root, plan, gen_a, gen_b = scoring_inputs
    outs = []
    for model, gen in (("muit/800", gen_b), ("alpaca-en", gen_a)):
        out = root / f"{model.replace('/', '_')}.csv"
        assert (
            main(
                [
                    "score-generations",
                    "--generations-dir",
                    str(gen),
                    "--plan",
                    str(plan),
                    "--model",
                    model,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        outs.append(str(out))
    total = root / "scores.csv"
    assert main(["gather-scores", "--inputs", *outs, "--bootstrap", "0", "--out", str(total)]) == 0
    header, rows = _read_csv(total)
    assert tuple(header) == COLUMNS and len(rows) == 12  # bleu, chrf; em, f1, contains, match by default
    assert [r["model"] for r in rows] == ["alpaca-en"] * 6 + ["muit/800"] * 6
    assert rows[0]["ci_low"] == ""  # no bootstrap asked for
    assert main(["gather-scores", "--inputs", outs[0], outs[0], "--out", str(total)]) == 2
    assert "duplicate score" in capsys.readouterr().err
    bad = root / "bad.csv"
    bad.write_text("model,value\nx,1\n")
    assert main(["gather-scores", "--inputs", str(bad), "--out", str(total)]) == 2
    assert "bad.csv: columns" in capsys.readouterr().err


def test_compare_generations_paired_significance(scoring_inputs):
    _, _, gen_a, gen_b = scoring_inputs
    result = compare_generations(gen_a, gen_b, "flores", "en-de", "chrf", n_boot=300, seed=0)
    assert set(result) >= {"a", "b", "delta", "p_value", "n"}
    assert result["n"] == len(REFS) and result["delta"] > 0 and result["p_value"] < 0.1
    qa_result = compare_generations(gen_a, gen_b, "xquad", "de", "em", n_boot=300, seed=0)
    assert qa_result["a"] == pytest.approx(100 / 3) and qa_result["b"] == pytest.approx(100.0)
    again = compare_generations(gen_a, gen_b, "flores", "en-de", "chrf", n_boot=300, seed=0)
    assert again == result


def test_mlqa_answers_are_normalized_in_the_context_language(tmp_path):
    from xllm.metrics.generations import target_lang

    assert target_lang({"task": "mlqa", "direction": "zh-en", "lang": "en", "testset": "x"}) == "zh"
    assert target_lang({"task": "xquad", "direction": "ar", "lang": "ar", "testset": "x"}) == "ar"
    assert target_lang({"task": "flores", "direction": "ar-en", "lang": "en", "reference": "x"}) == "en"


# --- score-qa -------------------------------------------------------------------------------------


def test_score_qa_reports_all_three_and_checks_ids(tmp_path, capsys):
    refs = tmp_path / "squad.json"
    refs.write_text(json.dumps(SQUAD), encoding="utf-8")
    preds = tmp_path / "pred.jsonl"
    rows = [
        {"id": "q1", "prediction": "Paris"},
        {"id": "q2", "prediction": "the city of Berlin"},
        {"id": "q3", "prediction": "Spain"},
    ]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["score-qa", "--predictions", str(preds), "--references", str(refs), "--lang", "en"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3
    assert out["exact_match"] == pytest.approx(100 / 3)
    assert out["contains"] == pytest.approx(200 / 3)
    assert out["f1"] == pytest.approx((1 + 0.5 + 0) / 3 * 100)  # "city of berlin": P=1/3, R=1
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    assert main(["score-qa", "--predictions", str(preds), "--references", str(refs), "--lang", "en"]) == 2
    assert "no prediction for 1 question(s), e.g. id 'q3'" in capsys.readouterr().err
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows + [{"id": "q9", "prediction": "x"}]))
    assert main(["score-qa", "--predictions", str(preds), "--references", str(refs), "--lang", "en"]) == 2
    assert "id 'q9' is not in" in capsys.readouterr().err


def test_cli_error_is_one_line_from_a_real_process(tmp_path, repo):
    ref, hyp = _write(tmp_path / "ref.txt", REFS), _write(tmp_path / "hyp.txt", HYPS_GOOD[:3])
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("xllm")),
            "score-mt",
            "--hyp",
            str(hyp),
            "--ref",
            str(ref),
            "--lang",
            "en",
            "--metric",
            "chrf",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_match_is_the_authors_first_answer_substring_test(tmp_path, capsys):
    """Table 6's "exact match": answers[0].strip().lower() in prediction.lower(), nothing more."""
    cases = [  # (gold answers, prediction)
        ([" Paris "], "It is paris."),  # stripped and lower-cased: 1 (EM: 0)
        (["the Eiffel Tower", "Eiffel Tower"], "Eiffel Tower"),  # first answer only: 0 (EM: 1)
        (["art"], "the party"),  # a substring, not a word: 1 (contains: 0)
        (["New York"], "newyork"),  # no normalization: 0
        (["北京"], "答案是北京。"),  # no tokenization needed: 1
        (["1,000"], "1000"),  # punctuation counts: 0
    ]
    squad = {
        "version": "1.1",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": "c",
                        "qas": [
                            {"id": f"q{i}", "question": "?", "answers": [{"text": g, "answer_start": 0} for g in golds]}
                            for i, (golds, _) in enumerate(cases)
                        ],
                    }
                ],
            }
        ],
    }
    refs = tmp_path / "squad.json"
    refs.write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    preds = tmp_path / "pred.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "prediction": p}, ensure_ascii=False) + "\n" for i, (_, p) in enumerate(cases)
        ),
        encoding="utf-8",
    )
    # the definition, applied to the file as the authors' script reads it
    qas = json.loads(refs.read_text(encoding="utf-8"))["data"][0]["paragraphs"][0]["qas"]
    predictions = {r["id"]: r["prediction"] for r in map(json.loads, preds.read_text(encoding="utf-8").splitlines())}
    expected = [float(q["answers"][0]["text"].strip().lower() in predictions[q["id"]].lower()) for q in qas]
    assert expected == [1, 0, 1, 0, 1, 0]
    assert [qa.match(p, g) for g, p in cases] == expected
    assert main(["score-qa", "--predictions", str(preds), "--references", str(refs), "--lang", "en"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["match"] == pytest.approx(100 * sum(expected) / len(expected))
    for name in ("em", "contains"):  # not the same metric under another name
        assert [qa.best_over_golds(qa.QA_FUNCTIONS[name], p, g, "en") for g, p in cases] != expected
    scored = registry.compute("match", [p for _, p in cases], [g for g, _ in cases], lang="en")
    assert scored.score == pytest.approx(out["match"]) and scored.signature.startswith("match|")
    assert qa.match("anything", []) == 0.0
