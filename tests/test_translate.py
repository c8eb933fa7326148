"""translate stage: protection, sentence splitting, shards, resume, import, merge + QC, real backends.

The hf-seq2seq tests run the real backend end to end on tiny random-weight Marian and M2M-100
models whose SentencePiece tokenizers are trained in the test (tests/helpers/tiny_mt.py).
"""

import json

import pytest

from xllm.cli import main
from xllm.demo.synthetic import LanguageSpec, spec_to_json
from xllm.errors import UserError
from xllm.translate.alpaca import UnitTranslator, partial_path, shard_range, translate_shard
from xllm.translate.demo_backend import DemoBackend
from xllm.translate.importer import import_shard
from xllm.translate.protect import protect
from xllm.translate.qc import field_flags, merge_shards, quality_check
from xllm.translate.segment import split_field

TRICKY = [
    {
        "id": "t0",
        "instruction": "Visit https://example.com/docs?page=2 before 2023-05-01.",
        "input": "",
        "output": "The rate is 3.5% and <noinput> stays; call `make_tea()` now.",
    },
    {
        "id": "t1",
        "instruction": "Write a function.",
        "input": "<noinput>",
        "output": "Here is the code:\n\n```python\ndef add(a, b):\n    return a + b\n```\nIt adds two numbers.",
    },
    {
        "id": "t2",
        "instruction": "Answer the question.",
        "input": "What is 12 times 7? Reply with [3] refs.",
        "output": "It is 84. Mr. Smith agrees. See www.example.org or mail info@example.org.",
    },
]
SPANS = [
    "https://example.com/docs?page=2",
    "2023-05-01",
    "3.5%",
    "<noinput>",
    "`make_tea()`",
    "```python\ndef add(a, b):\n    return a + b\n```",
    "12",
    "84",
    "[3]",
    "www.example.org",
    "info@example.org",
]


def english(n: int) -> list[dict]:
    words = "the small fox sees a red bird near the old river and the child helps the farmer".split()
    items = []
    for i in range(n):
        length = 3 + (i * 7) % 14
        text = " ".join(words[(i + k) % len(words)] for k in range(length)) + " ."
        items.append(
            {
                "id": f"alpaca-{i}",
                "instruction": f"Repeat sentence {i}.",
                "input": text if i % 3 else "",
                "output": text,
            }
        )
    return items


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "mid.json"
    spec = LanguageSpec(
        code="mid", name="Midish", seed=12, lexicon_fraction=0.7, adjective_after_noun=True, noun_suffix="en"
    )
    path.write_text(json.dumps(spec_to_json(spec)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch

    from helpers.tiny_mt import make_tiny_mt

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only contend on a shared machine
    root = tmp_path_factory.mktemp("models")
    texts = [i["output"] for i in english(30)] + [i["output"] for i in TRICKY] + ["[0] [1] [2] [3]"]
    yield {f: make_tiny_mt(root / f, f, texts * 3, vocab_size=120) for f in ("marian", "m2m100", "nllb")}
    torch.set_num_threads(threads)


def write(path, obj):
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


# ------------------------------------------------------------------ protection and splitting


def test_protect_restores_spans_even_with_spaced_or_arabic_digit_markers():
    text = "See https://x.org/a, pay 1,200.50 on 12/05 for <noinput> and {name} [7]."
    prot = protect(text)
    assert prot.spans == ("https://x.org/a", "1,200.50", "12/05", "<noinput>", "{name}", "[7]")
    assert "x.org" not in prot.text and "1,200" not in prot.text
    assert prot.restore(prot.text) == text
    translated = prot.text.replace("[0]", "[ 0 ]").replace("[2]", "[٢]")  # model-style damage
    assert prot.restore(translated) == text
    assert prot.restore(prot.text.replace("[1]", "")) is None  # a lost marker is detected
    assert prot.restore(prot.text + " [1]") is None  # so is a duplicated one
    assert protect("the 1st H2O bottle, COVID-19").spans == ("19",)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "One line.",
        " lead and trail  ",
        "a\n\nb\n",
        TRICKY[1]["output"],
        "First sentence. Second one? Third! " * 10,
        "1. Do this. 2. Do that. e.g. tea, i.e. hot.",
    ],
)
def test_split_field_joins_back_exactly(text):
    parts = split_field(text, split_chars=40)
    assert "".join(piece for _, piece in parts) == text


def test_split_field_cuts_long_lines_into_sentences_and_keeps_code_verbatim():
    text = "Short first sentence here. Mr. Smith came at 5 p.m. to see it! Then he left.\n```\nx = 1\n```"
    parts = split_field(text, split_chars=30)
    units = [p for flag, p in parts if flag]
    assert units == ["Short first sentence here.", "Mr. Smith came at 5 p.m. to see it!", "Then he left."]
    assert (False, "\n```\nx = 1\n```") in parts
    assert [p for flag, p in split_field(text, split_chars=1000) if flag] == [text.split("\n")[0]]


# ------------------------------------------------------------------ the demo backend


def test_demo_backend_translates_fields_separately_and_protects_spans(spec):
    out = UnitTranslator(DemoBackend(spec)).translate_items(TRICKY)
    assert [o["id"] for o in out] == ["t0", "t1", "t2"]
    assert out[0]["input"] == ""  # empty stays empty
    assert out[1]["input"] == "<noinput>"  # a lone placeholder is not sent to the model
    joined = json.dumps(out, ensure_ascii=False)
    for span in SPANS:
        assert json.dumps(span)[1:-1] in joined, span
    assert "Visit" not in out[0]["instruction"]  # it was translated
    assert out[1]["output"].count("\n") == TRICKY[1]["output"].count("\n")


def test_demo_backend_agrees_with_the_demo_language_on_demo_text(spec):
    """The demo's test sets are translated whole by the language itself: Alpaca-X must match."""
    from xllm.demo.synthetic import load_language

    items = english(12) + [
        {
            "id": "qa",
            "instruction": "Answer the final question with following context.",
            "input": "Context: the old fox sees a bird . a child helps the farmer .\nQuestion: "
            "what does the old fox see ?",
            "output": "a bird",
        }
    ]
    lang = load_language(spec)
    for src, out in zip(items, UnitTranslator(DemoBackend(spec)).translate_items(items)):
        assert all(out[f] == lang.translate(src[f]) for f in ("instruction", "input", "output"))


def test_shards_are_contiguous_and_merge_in_order_to_the_unsharded_result(tmp_path, spec):
    items = english(23)
    assert [shard_range(23, i, 4) for i in range(4)] == [(0, 5), (5, 11), (11, 17), (17, 23)]
    src = write(tmp_path / "en.json", items)
    common = [
        "translate-alpaca",
        "--input",
        str(src),
        "--lang",
        "mid",
        "--backend",
        "demo",
        "--spec",
        str(spec),
        "--no-progress",
    ]
    assert main(common + ["--out", str(tmp_path / "all.json")]) == 0
    shards = [tmp_path / f"shards/{i}.json" for i in range(4)]
    for i, path in enumerate(shards):
        assert main(common + ["--shard", str(i), "--num-shards", "4", "--out", str(path)]) == 0
        assert not partial_path(path).exists()
    merged, qc = tmp_path / "mid.json", tmp_path / "mid.qc.json"
    argv = ["merge-alpaca", "--lang", "mid", "--out", str(merged), "--qc", str(qc), "--source", str(src)]
    assert main(argv + ["--shards", *map(str, shards)]) == 0
    assert json.loads(merged.read_text()) == json.loads((tmp_path / "all.json").read_text())
    report = json.loads(qc.read_text())
    assert report["items"] == 23 and set(report["flags"]) == {"empty", "still_english", "length_ratio"}
    assert report["provenance"]["git_commit"]
    out2 = tmp_path / "wrong.json"
    with pytest.raises(UserError, match="do not match its ids in order"):
        main_raising(
            argv[:3]
            + [
                "--out",
                str(out2),
                "--qc",
                str(qc),
                "--source",
                str(src),
                "--shards",
                *map(str, [shards[1], shards[0], shards[2], shards[3]]),
            ]
        )
    with pytest.raises(UserError, match="also in"):
        merge_shards([shards[0], shards[0]])
    assert not out2.exists()


def main_raising(argv):
    """Run a subcommand so that a UserError propagates (main() turns it into exit status 2)."""
    from xllm.cli import build_parser

    args = build_parser().parse_args(argv)
    return args.func(args)


class Killed(Exception):
    pass


class DiesAfter:
    """The demo backend, killed after ``n`` calls: a job that dies mid-shard."""

    def __init__(self, backend, n):
        self.backend, self.n, self.settings = backend, n, backend.settings

    def translate(self, texts, on_batch=None):
        if self.n == 0:
            raise Killed
        self.n -= 1
        return self.backend.translate(texts, on_batch)


def test_resume_after_a_kill_redoes_only_unfinished_items(tmp_path, spec):
    items = english(20)
    clean = tmp_path / "clean.json"
    translate_shard(items, DemoBackend(spec), clean, chunk=6, progress=False)
    out = tmp_path / "0.json"
    with pytest.raises(Killed):
        translate_shard(items, DiesAfter(DemoBackend(spec), 2), out, chunk=6, progress=False)
    assert not out.exists() and partial_path(out).exists()  # nothing that looks complete
    with open(partial_path(out), "a", encoding="utf-8") as handle:
        handle.write('{"id": "alpaca-12", "instr')  # torn line from the kill
    stats = translate_shard(items, DemoBackend(spec), out, chunk=6, progress=False)
    assert stats["resumed_items"] == 12
    assert json.loads(out.read_text()) == json.loads(clean.read_text())
    assert not partial_path(out).exists()


def test_resume_ignores_a_partial_file_from_other_settings(tmp_path, spec):
    out = tmp_path / "0.json"
    with pytest.raises(Killed):
        translate_shard(english(12), DiesAfter(DemoBackend(spec), 1), out, chunk=4, progress=False)
    other = json.loads(spec.read_text())
    other["seed"] = 99
    stats = translate_shard(
        english(12), DemoBackend(write(tmp_path / "other.json", other)), out, chunk=4, progress=False
    )
    assert stats["resumed_items"] == 0


# ------------------------------------------------------------------ import


def test_import_accepts_jsonl_and_rejects_missing_ids_or_empty_fields(tmp_path):
    items = english(6)
    translated = [
        dict(
            i,
            instruction="X " + i["instruction"],
            input="X " + i["input"] if i["input"] else "",
            output="X " + i["output"],
        )
        for i in items
    ]
    good = tmp_path / "x.jsonl"
    good.write_text("".join(json.dumps(t) + "\n" for t in reversed(translated)), encoding="utf-8")
    assert import_shard(items, good) == translated  # matched by id, in our order
    missing = write(tmp_path / "missing.json", translated[:2] + translated[3:])
    with pytest.raises(UserError, match=r"missing.json: 1 ids missing \(e.g. alpaca-2\)"):
        import_shard(items, missing)
    src = write(tmp_path / "en.json", items)
    rc = main(
        [
            "translate-alpaca",
            "--input",
            str(src),
            "--lang",
            "tr",
            "--backend",
            "import",
            "--import-file",
            str(missing),
            "--out",
            str(tmp_path / "o.json"),
        ]
    )
    assert rc == 2 and not (tmp_path / "o.json").exists()
    empty = write(tmp_path / "empty.json", [dict(t, output="") if t["id"] == "alpaca-4" else t for t in translated])
    with pytest.raises(UserError, match="alpaca-4: 'output' is empty"):
        import_shard(items, empty)


# ------------------------------------------------------------------ QC


def test_qc_flags_empty_still_english_and_implausible_lengths():
    src = "the small fox sees a red bird near the old river ."
    assert field_flags(src, "", "tr", 0.8, 3.0) == ["empty"]
    assert field_flags(src, src, "tr", 0.8, 3.0) == ["still_english"]
    assert field_flags(src, "küçük tilki nehrin yanında kırmızı bir kuş görüyor .", "tr", 0.8, 3.0) == []
    assert field_flags(src, "kuş", "tr", 0.8, 3.0) == ["length_ratio"]
    assert field_flags(src, "小狐狸看到旧河附近的一只红鸟。", "zh", 0.8, 3.0) == []  # CJK is short, fine
    assert field_flags("", "", "tr", 0.8, 3.0) == []
    # English in a non-Latin-script language is caught even when it is not a copy of the source.
    paraphrase = "a little fox notices one crimson bird close to the ancient stream ."
    assert field_flags(src, paraphrase, "ar", 0.8, 3.0) == ["still_english"]
    assert field_flags(src, paraphrase, "tr", 0.8, 3.0) == []
    with_url = "يرى الثعلب الصغير طائرا أحمر قرب النهر القديم https://example.com/a/b/c"
    assert field_flags(src, with_url, "ar", 0.8, 3.0) == []
    # A language sharing most of its words with English is flagged only above the threshold.
    near = "the small fox sees a rebo bird nabi the old tuza ."
    assert field_flags(src, near, "near", 0.8, 3.0) == []
    assert field_flags(src, near, "near", 0.6, 3.0) == ["still_english"]
    merged = [{"id": "a", "instruction": "", "input": "", "output": src}]
    source = [{"id": "a", "instruction": "Repeat it.", "input": "", "output": src}]
    qc = quality_check(merged, source, "tr")
    assert qc["flags"] == {"empty": 1, "still_english": 1, "length_ratio": 0}
    assert qc["items_flagged"] == 1 and qc["examples"]["empty"] == ["a:instruction"]


# ------------------------------------------------------------------ hf-seq2seq, real models


def test_marian_end_to_end_keeps_spans_and_empty_fields(tmp_path, tiny):
    src = write(tmp_path / "en.json", TRICKY + english(3))
    out = tmp_path / "shards/0.json"
    rc = main(
        [
            "translate-alpaca",
            "--input",
            str(src),
            "--lang",
            "tr",
            "--backend",
            "hf-seq2seq",
            "--model",
            str(tiny["marian"]),
            "--beam-size",
            "2",
            "--max-length",
            "16",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    result = json.loads(out.read_text())
    assert [r["id"] for r in result] == [i["id"] for i in TRICKY + english(3)]
    joined = json.dumps(result, ensure_ascii=False)
    for span in SPANS:  # random weights lose markers; the piecewise fallback still keeps every span
        assert json.dumps(span)[1:-1] in joined, span
    for r, e in zip(result, TRICKY + english(3)):
        for field in ("instruction", "input", "output"):
            assert bool(r[field]) == bool(e[field]), (r["id"], field)
    assert result[1]["input"] == "<noinput>"


def test_nllb_uses_flores200_codes_end_to_end(tmp_path, tiny):
    from xllm.languages import get
    from xllm.translate.seq2seq import Seq2SeqBackend

    backend = Seq2SeqBackend(str(tiny["nllb"]), get("en"), get("zh"), beam_size=2, max_length=12, device="cpu")
    assert backend.family == "nllb"
    assert backend.tokenizer.src_lang == "eng_Latn"
    assert backend.tokenizer("the fox .")["input_ids"][0] == backend.tokenizer.convert_tokens_to_ids("eng_Latn")
    assert backend.forced_bos == backend.tokenizer.convert_tokens_to_ids("zho_Hans")
    src = write(tmp_path / "en.json", english(4))
    out = tmp_path / "zh.json"
    assert (
        main(
            [
                "translate-alpaca",
                "--input",
                str(src),
                "--lang",
                "zh",
                "--backend",
                "hf-seq2seq",
                "--model",
                str(tiny["nllb"]),
                "--beam-size",
                "2",
                "--max-length",
                "12",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert [r["id"] for r in result] == [i["id"] for i in english(4)]
    assert "zho_Hans" not in out.read_text()


def test_m2m100_uses_the_target_language_code(tmp_path, tiny):
    from xllm.languages import get
    from xllm.translate.seq2seq import Seq2SeqBackend

    backend = Seq2SeqBackend(str(tiny["m2m100"]), get("en"), get("ar"), beam_size=1, max_length=12, device="cpu")
    assert backend.family == "m2m100"
    assert backend.forced_bos == backend.tokenizer.convert_tokens_to_ids("__ar__")
    assert backend.tokenizer.src_lang == "en"
    texts = ["the fox .", "the small fox sees a red bird near the old river and the child helps ."] * 3
    assert [b for batch in backend.batches(texts) for b in batch][:3] == [1, 3, 5]  # longest first
    out = backend.translate(texts)
    assert len(out) == 6 and "__ar__" not in " ".join(out)
    with pytest.raises(UserError, match="'near' has no m2m code"):
        from xllm.languages import Language

        Seq2SeqBackend(str(tiny["m2m100"]), get("en"), Language("near", "Nearish"), device="cpu")


@pytest.mark.slow
def test_a_real_sigkill_mid_shard_leaves_no_output_and_the_rerun_resumes(tmp_path, tiny, python, capsys):
    import os
    import signal
    import subprocess
    import time

    items = english(24)
    src = write(tmp_path / "en.json", items)
    out = tmp_path / "shards/0.json"
    argv = [
        "translate-alpaca",
        "--input",
        str(src),
        "--lang",
        "tr",
        "--backend",
        "hf-seq2seq",
        "--model",
        str(tiny["marian"]),
        "--beam-size",
        "2",
        "--max-length",
        "24",
        "--chunk",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([python, "-m", "xllm", *argv], env=env, stderr=subprocess.DEVNULL)
    partial = partial_path(out)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 3:  # header + 2 items
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the job finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    kept = [json.loads(line) for line in partial.read_text().splitlines()[1:] if line.endswith("}")]
    assert main(argv + ["--no-progress"]) == 0
    assert f"resuming: {len(kept)} of 24 items" in capsys.readouterr().err
    result = json.loads(out.read_text())
    assert [r["id"] for r in result] == [i["id"] for i in items]
    assert result[: len(kept)] == kept  # not redone
    assert not partial.exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--backend", "demo"], "--backend demo needs --spec"),
        (["--backend", "hf-seq2seq"], "--backend hf-seq2seq needs --model"),
        (["--backend", "import"], "--backend import needs --import-file"),
        (["--backend", "demo", "--spec", "S", "--shard", "3", "--num-shards", "3"], "--shard 3: must be in 0..2"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, spec, capsys, extra, message):
    src = write(tmp_path / "en.json", english(3))
    argv = ["translate-alpaca", "--input", str(src), "--lang", "mid", "--out", str(tmp_path / "o.json")]
    assert main(argv + [a if a != "S" else str(spec) for a in extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o.json").exists()


def test_input_without_ids_is_rejected(tmp_path, capsys):
    src = write(tmp_path / "en.json", [{"instruction": "x", "input": "", "output": "y"}])
    assert (
        main(
            [
                "translate-alpaca",
                "--input",
                str(src),
                "--lang",
                "tr",
                "--backend",
                "import",
                "--import-file",
                str(src),
                "--out",
                str(tmp_path / "o.json"),
            ]
        )
        == 2
    )
    assert "en.json: item 0 has no 'id'" in capsys.readouterr().err


def test_import_matches_a_file_without_ids_by_position_as_the_authors_release_it(tmp_path):
    items = english(4)  # ids alpaca-0..3, as xllm prepare-alpaca gives them
    released = [{k: "X " + i[k] if i[k] else "" for k in ("instruction", "input", "output")} for i in items]
    path = write(tmp_path / "alpaca_tr.json", released)  # the bundle's alpaca/alpaca_{lang}.json
    got = import_shard(items[2:], path)  # a shard: matched by position in the whole file
    assert [g["id"] for g in got] == ["alpaca-2", "alpaca-3"]
    assert got[0]["instruction"] == "X " + items[2]["instruction"]
    short = write(tmp_path / "short.json", released[:3])
    with pytest.raises(UserError, match=r"1 ids missing \(e.g. alpaca-3\)"):
        import_shard(items, short)
