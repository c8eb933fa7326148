"""Cleaning, subsets, Alpaca, test sets and Table 1, on fixture files in the real formats."""

import gzip
import io
import json
import subprocess
import tarfile
import unicodedata
import zipfile

import pyarrow.parquet as pq
import pytest
import yaml

from xllm.data.alpaca import prepare_alpaca
from xllm.data.clean import Settings, normalize, prepare_corpus
from xllm.data.stats import cleaned_caps, corpus_stats
from xllm.data.subset import subset_corpus
from xllm.data.testsets import prepare_flores, prepare_mlqa, prepare_xquad
from xllm.errors import UserError

FLORES_EN = ["The test sentence one.", "The test sentence two."]
FLORES_AR = ["جملة الاختبار الأولى.", "جملة الاختبار الثانية."]


def good(i):
    return f"Sentence number {i} is here.", f"الجملة رقم {i} هنا."


def write_sources(tmp_path, files):
    path = tmp_path / "sources.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "files": {
                    name: {"url": f"https://example.org/{name}", "sha256": None, **entry}
                    for name, entry in files.items()
                }
            },
            allow_unicode=True,
        )
    )
    return path


@pytest.fixture
def corpora(tmp_path):
    """WikiMatrix (ar-en: Arabic first, as in the real file), OPUS moses zip and TSV, FLORES files."""
    rows = [f"1.2\t{good(i)[1]}\t{good(i)[0]}" for i in range(40)]
    rows += [
        f"1.01\t{good(100)[1]}\t{good(100)[0]}",  # margin below 1.04
        f"1.2\t\t{good(101)[0]}",  # empty Arabic side
        f"1.2\t{'ب' * 1200}\t{'b' * 1200}",  # over-long
        f"1.2\tقصير\t{'A very long English sentence that has nothing to do with four letters. ' * 3}",  # ratio
        f"1.2\t{good(3)[1]}\t{good(3)[0]}",  # exact duplicate of pair 3
        f"1.2\t{FLORES_AR[0]}\tSome unrelated English line.",  # Arabic side is a FLORES sentence
        f"1.2\tسطر غير ذي صلة.\t{FLORES_EN[1]}",  # English side is a FLORES sentence
        "not a wikimatrix line",  # malformed
        f"1.3\t{good(200)[1]}\tCafe\u0301 \x07with control\tcharacter",  # wrong field count (4 fields)
        f"1.3\t{good(201)[1]}\tCafe\u0301 with\x07control.",  # NFD + control character: kept, normalized
    ]
    wm = tmp_path / "WikiMatrix.ar-en.tsv.gz"
    wm.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode("utf-8"), mtime=0))

    nc = tmp_path / "News-Commentary.ar-en.txt.zip"
    en = [good(i)[0] for i in range(300, 310)] + [good(5)[0]]  # the last duplicates a WikiMatrix pair
    ar = [good(i)[1] for i in range(300, 310)] + [good(5)[1]]
    with zipfile.ZipFile(nc, "w") as zf:
        zf.writestr("README", "OPUS")
        zf.writestr("News-Commentary.ar-en.ar", "\n".join(ar) + "\n")
        zf.writestr("News-Commentary.ar-en.en", "\n".join(en) + "\n")
    tsv = tmp_path / "nc.en-ar.tsv"
    tsv.write_text("".join(f"{e}\t{a}\n" for e, a in (good(i) for i in range(400, 405))), encoding="utf-8")

    flores = []
    for lang, lines in (("en", FLORES_EN), ("ar", FLORES_AR)):
        path = tmp_path / f"flores.dev.{lang}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        flores.append(path)
    sources = write_sources(
        tmp_path,
        {
            wm.name: {"corpus": "wikimatrix", "langs": ["ar", "en"], "format": "wikimatrix-tsv"},
            nc.name: {"corpus": "news-commentary", "langs": ["ar", "en"], "format": "moses-zip"},
            tsv.name: {"corpus": "news-commentary", "langs": ["en", "ar"], "format": "tsv"},
        },
    )
    return {"wm": wm, "nc": nc, "tsv": tsv, "flores": flores, "sources": sources, "dir": tmp_path}


def test_normalize_nfc_and_control_characters():
    assert normalize("  Cafe\u0301\x07 ok\t\r\n") == "Café ok"
    assert unicodedata.is_normalized("NFC", normalize("e\u0301"))
    assert normalize("\ufeffhello") == "hello"
    assert normalize("कि\u200dसी") == "कि\u200dसी"  # zero-width joiners carry meaning: kept


def test_vectorized_normalization_equals_python():
    """The RE2 pre-filter must flag every sentence NFC or the control-character rule would change."""
    import random

    import pyarrow as pa

    from xllm.data.normalize import normalize_array

    rng = random.Random(0)
    tricky = [
        0x301,
        0x327,
        0x323,
        0x308,
        0x93C,
        0x94D,
        0x958,
        0x929,
        0x653,
        0x654,
        0x655,
        0x627,
        0x1100,
        0x1161,
        0x11A8,
        0xAC00,
        0x2126,
        0x212B,
        0xF900,
        0x2F800,
        0x1E9B,
        0x3099,
        0x304B,
        0xC5,
        0xE9,
        0xA0,
        0x3000,
        0x09,
        0x0A,
        0x1F,
        0x85,
        0xFEFF,
        0x200D,
    ]
    pool = [chr(c) for c in tricky] + list("aeAo क ا")
    texts = ["".join(rng.choices(pool, k=rng.randint(0, 8))) for _ in range(20_000)]
    assert normalize_array(pa.array(texts, pa.string())).to_pylist() == [normalize(t) for t in texts]


def test_prepare_corpus_filters_and_counts(corpora):
    d = corpora["dir"]
    record = prepare_corpus(
        "ar",
        [corpora["wm"], corpora["nc"], corpora["tsv"]],
        corpora["sources"],
        corpora["flores"],
        d / "clean.parquet",
        d / "manifest.json",
        Settings(calibration=100),
    )
    table = pq.read_table(d / "clean.parquet")
    assert table.column_names == ["src", "tgt", "source"]
    rows = table.to_pylist()
    wm, nc = record["corpora"]["wikimatrix"], record["corpora"]["news-commentary"]
    assert wm["read"] == 50 and wm["malformed"] == 2
    assert wm["after"] == {"empty": 47, "margin": 46, "too_long": 45, "ratio": 44, "duplicate": 43, "contamination": 41}
    assert nc["read"] == 16 and nc["after"]["duplicate"] == 15 and nc["kept"] == 15  # one duplicate across corpora
    assert nc["files"] == [corpora["nc"].name, corpora["tsv"].name]
    assert record["pairs"] == len(rows) == 56
    # English is always src, whatever the order in the raw file
    assert rows[0] == {"src": good(0)[0], "tgt": good(0)[1], "source": "wikimatrix"}
    assert {"src": good(300)[0], "tgt": good(300)[1], "source": "news-commentary"} in rows
    assert {"src": good(400)[0], "tgt": good(400)[1], "source": "news-commentary"} in rows
    # contamination: no FLORES sentence on either side
    texts = {r["src"] for r in rows} | {r["tgt"] for r in rows}
    assert not texts & set(FLORES_EN + FLORES_AR)
    assert "Café with control." in texts
    assert len({(r["src"], r["tgt"]) for r in rows}) == len(rows)
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["filters"] == ["empty", "margin", "too_long", "ratio", "duplicate", "contamination"]
    assert len(manifest["inputs"][0]["sha256"]) == 64 and "git_commit" in manifest["provenance"]
    assert manifest["sha256"] == record["sha256"]


def test_prepare_corpus_margin_threshold_is_configurable(corpora):
    d = corpora["dir"]
    record = prepare_corpus(
        "ar", [corpora["wm"]], corpora["sources"], [], d / "c.parquet", d / "m.json", Settings(min_margin=1.25)
    )
    assert record["corpora"]["wikimatrix"]["after"]["margin"] == 1  # only the well-formed 1.3 line


def test_truncated_gzip_corpus_is_a_clear_error(corpora, python):
    """Pairs are already being written when the damage is found: one-line error, no output."""
    d = corpora["dir"]
    rows = "".join(f"1.2\t{good(i)[1]}\t{good(i)[0]}\n" for i in range(20_000)).encode("utf-8")
    data = gzip.compress(rows, mtime=0)
    corpora["wm"].write_bytes(data[: len(data) * 3 // 4])
    args = [
        "prepare-corpus",
        "--lang",
        "ar",
        "--inputs",
        str(corpora["wm"]),
        "--sources",
        str(corpora["sources"]),
        "--out",
        str(d / "c.parquet"),
        "--manifest",
        str(d / "m.json"),
    ]
    script = (  # small blocks: many Parquet writes in flight when the error arrives
        f"import sys, xllm.data.readers as r, xllm.cli as c\nr.BLOCK_BYTES = 4096\nsys.exit(c.main({args!r}))\n"
    )
    out = subprocess.run([python, "-c", script], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().endswith("(compressed file ended before the end-of-stream marker was reached)")
    assert "WikiMatrix.ar-en.tsv.gz: corrupt or truncated" in out.stderr and len(out.stderr.splitlines()) == 1
    assert not (d / "c.parquet").exists() and not (d / "m.json").exists()


def test_unlisted_input_and_wrong_language_are_errors(corpora, tmp_path):
    d = corpora["dir"]
    stray = tmp_path / "other.tsv"
    stray.write_text("a\tb\n")
    with pytest.raises(UserError, match="'other.tsv' is not listed in"):
        prepare_corpus("ar", [stray], corpora["sources"], [], d / "c.parquet", d / "m.json")
    with pytest.raises(UserError, match="not of 'hi'"):
        prepare_corpus("hi", [corpora["wm"]], corpora["sources"], [], d / "c.parquet", d / "m.json")


def test_tmx_reader(tmp_path):
    tmx = tmp_path / "nc.en-zh.tmx.gz"
    body = "".join(
        f'<tu><tuv xml:lang="en"><seg>Line {i} &amp; more.</seg></tuv>'
        f'<tuv xml:lang="zh"><seg>第{i}行。</seg></tuv></tu>'
        for i in range(5)
    )
    document = f'<?xml version="1.0"?><tmx version="1.4"><body>{body}</body></tmx>'
    tmx.write_bytes(gzip.compress(document.encode(), mtime=0))
    sources = write_sources(tmp_path, {tmx.name: {"corpus": "news-commentary", "langs": ["en", "zh"], "format": "tmx"}})
    record = prepare_corpus("zh", [tmx], sources, [], tmp_path / "c.parquet", tmp_path / "m.json")
    assert record["pairs"] == 5
    first = pq.read_table(tmp_path / "c.parquet").to_pylist()[0]
    assert first == {"src": "Line 0 & more.", "tgt": "第0行。", "source": "news-commentary"}


@pytest.fixture
def clean_corpus(tmp_path):
    import pyarrow as pa

    path = tmp_path / "clean.parquet"
    pq.write_table(
        pa.table(
            {"src": [f"e{i}" for i in range(500)], "tgt": [f"x{i}" for i in range(500)], "source": ["wikimatrix"] * 500}
        ),
        path,
    )
    return path


def test_subsets_are_nested_and_seeded(clean_corpus, tmp_path):
    def subset(scale, seed=3):
        out = tmp_path / f"s-{scale}-{seed}.jsonl"
        subset_corpus(clean_corpus, scale, seed, out)
        return [json.loads(line) for line in out.read_text().splitlines()]

    small, large, full = subset(50), subset(200), subset("full")
    assert small == large[:50] and large == full[:200]
    assert len(full) == 500 and {r["src"] for r in full} == {f"e{i}" for i in range(500)}
    assert subset(50) == small  # same seed, same subset
    assert subset(50, seed=4) != small
    assert small[0].keys() == {"src", "tgt"} and small[0]["tgt"] == "x" + small[0]["src"][1:]
    assert [r["src"] for r in small] != [f"e{i}" for i in range(50)]  # shuffled, not the head


def test_scale_larger_than_corpus_names_both_numbers(clean_corpus, tmp_path):
    with pytest.raises(UserError, match="scale 501 is larger than the corpus \\(500 pairs\\)"):
        subset_corpus(clean_corpus, 501, 0, tmp_path / "s.jsonl")
    with pytest.raises(UserError, match="'many'"):
        subset_corpus(clean_corpus, "many", 0, tmp_path / "s.jsonl")
    assert not (tmp_path / "s.jsonl").exists()


def test_prepare_alpaca_ids_and_validation(tmp_path):
    items = [{"instruction": f"Do {i}.", "input": "" if i % 2 else "ctx", "output": f"Done {i}."} for i in range(5)]
    raw = tmp_path / "alpaca_data.json"
    raw.write_text(json.dumps(items))
    assert prepare_alpaca(raw, tmp_path / "en.json") == 5
    out = json.loads((tmp_path / "en.json").read_text())
    assert out[3] == {"id": "alpaca-3", **items[3]}
    raw.write_text(json.dumps(items + [{"instruction": "x", "output": "y"}]))
    with pytest.raises(UserError, match="item 5 has no string 'input'"):
        prepare_alpaca(raw, tmp_path / "bad.json")


def _flores_tarball(path):
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("dev", 3), ("devtest", 4)):
            for code in ("eng", "ara", "zho_simpl"):
                data = "".join(f"{code} {split} {i}\n" for i in range(n)).encode()
                info = tarfile.TarInfo(f"flores101_dataset/{split}/{code}.{split}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_flores_from_tarball_and_plain(tmp_path):
    tgz = tmp_path / "flores101_dataset.tar.gz"
    _flores_tarball(tgz)
    plain = tmp_path / "flores101.dev.en.txt"
    plain.write_bytes(b"one\r\ntwo\r\n")
    sources = write_sources(
        tmp_path,
        {
            tgz.name: {"corpus": "flores", "langs": ["en", "ar", "zh"], "format": "flores-tarball"},
            plain.name: {"corpus": "flores", "langs": ["en"], "format": "flores-plain", "split": "dev"},
        },
    )
    assert prepare_flores("zh", "devtest", tgz, sources, tmp_path / "zh.txt") == 4
    assert (tmp_path / "zh.txt").read_text().splitlines()[1] == "zho_simpl devtest 1"
    assert prepare_flores("en", "dev", plain, sources, tmp_path / "en.txt") == 2
    assert (tmp_path / "en.txt").read_bytes() == b"one\ntwo\n"
    with pytest.raises(UserError, match="no member ending in devtest/ell.devtest"):
        prepare_flores("el", "devtest", tgz, sources, tmp_path / "el.txt")
    with pytest.raises(UserError, match="the dev split, not devtest"):
        prepare_flores("en", "devtest", plain, sources, tmp_path / "x.txt")


def _squad(answer_start=10, text="Paris"):
    return {
        "version": "1.1",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": "Capital = Paris, in France.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Capital?",
                                "answers": [{"text": text, "answer_start": answer_start}],
                            }
                        ],
                    }
                ],
            }
        ],
    }


def test_xquad_keeps_structure_and_checks_spans(tmp_path):
    raw = tmp_path / "xquad.ar.json"
    sources = write_sources(tmp_path, {raw.name: {"corpus": "xquad", "langs": ["ar"], "format": "squad-json"}})
    raw.write_text(json.dumps(_squad()))
    assert prepare_xquad("ar", raw, sources, tmp_path / "ar.json") == 1
    out = json.loads((tmp_path / "ar.json").read_text())
    assert out["data"] == _squad()["data"] and out["version"] == "1.1"
    assert out["provenance"]["input_sha256"] and out["validation"]["questions"] == 1
    raw.write_text(json.dumps(_squad(answer_start=0)))  # wrong offset, text present: repaired
    prepare_xquad("ar", raw, sources, tmp_path / "ar.json")
    out = json.loads((tmp_path / "ar.json").read_text())
    assert out["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] == 10
    raw.write_text(json.dumps(_squad(text="Lyon")))  # answer nowhere in the context
    with pytest.raises(UserError, match="1 of 1 questions have an answer that is not in the context"):
        prepare_xquad("ar", raw, sources, tmp_path / "bad.json")


def test_mlqa_from_zip(tmp_path):
    raw = tmp_path / "MLQA_V1.zip"
    with zipfile.ZipFile(raw, "w") as zf:
        zf.writestr("MLQA_V1/test/test-context-en-question-ar.json", json.dumps(_squad()))
        zf.writestr("MLQA_V1/dev/dev-context-en-question-ar.json", json.dumps(_squad()))
    sources = write_sources(tmp_path, {raw.name: {"corpus": "mlqa", "langs": ["en", "ar"], "format": "mlqa-zip"}})
    assert prepare_mlqa("en-ar", "test", raw, sources, tmp_path / "en-ar.json") == 1
    out = json.loads((tmp_path / "en-ar.json").read_text())
    assert out["provenance"]["setting"] == "en-ar" and out["data"] == _squad()["data"]
    with pytest.raises(UserError, match="no member test/test-context-hi-question-hi.json"):
        prepare_mlqa("hi-hi", "test", raw, sources, tmp_path / "hi.json")


def test_line_aligned_corpus_of_the_authors_bundle(tmp_path, repo):
    """translation/ncwm/en-ar/train.{en,ar}: read in step, cleaned like any corpus, counted as ncwm."""
    pair_dir = tmp_path / "bundle" / "translation" / "ncwm" / "en-ar"
    pair_dir.mkdir(parents=True)
    en = [good(i)[0] for i in range(20)] + [good(3)[0], FLORES_EN[0], ""]
    ar = [good(i)[1] for i in range(20)] + [good(3)[1], "سطر.", "فارغ"]
    (pair_dir / "train.en").write_text("\n".join(en) + "\n", encoding="utf-8")
    (pair_dir / "train.ar").write_text("\n".join(ar) + "\n", encoding="utf-8")
    (tmp_path / "flores.en").write_text("\n".join(FLORES_EN) + "\n", encoding="utf-8")
    record = prepare_corpus(
        "ar",
        [],
        tmp_path / "unused.yaml",  # no downloaded input: the sources file is not read
        [tmp_path / "flores.en"],
        tmp_path / "clean.parquet",
        tmp_path / "manifest.json",
        Settings(calibration=100),
        line_aligned={"ncwm": pair_dir / "train.en"},
    )
    ncwm = record["corpora"]["ncwm"]
    assert ncwm["read"] == 23 and ncwm["kept"] == 20 == record["pairs"]  # empty, duplicate, FLORES out
    rows = pq.read_table(tmp_path / "clean.parquet").to_pylist()
    assert rows[5] == {"src": good(5)[0], "tgt": good(5)[1], "source": "ncwm"}
    assert [i["file"].rsplit("/", 1)[-1] for i in record["inputs"]] == ["train.en", "train.ar"]
    # Table 1: the released count and the count after our filters, both beside the paper's total
    text = corpus_stats([tmp_path / "manifest.json"], tmp_path / "t.md", repo / "workflow" / "paper_tables.yaml")
    assert "| Authors' NC + WikiMatrix, as released | 23 (1097.2k) |" in text
    assert "| Authors' NC + WikiMatrix, after our filters | 20 (1097.2k) |" in text
    (pair_dir / "train.ar").write_text("\n".join(ar[:-2]) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="train.ar differ in length"):
        prepare_corpus(
            "ar",
            [],
            tmp_path / "unused.yaml",
            [],
            tmp_path / "c2.parquet",
            tmp_path / "m2.json",
            line_aligned={"ncwm": pair_dir / "train.en"},
        )
    assert not (tmp_path / "c2.parquet").exists()


def test_corpus_stats_table_beside_the_paper(tmp_path, repo):
    manifests = []
    for lang, wm, nc in (("ar", 999_812, 97_400), ("el", 620_000, None)):
        corpora = {"wikimatrix": {"kept": wm}}
        if nc:
            corpora["news-commentary"] = {"kept": nc}
        path = tmp_path / f"{lang}.json"
        path.write_text(json.dumps({"lang": lang, "corpora": corpora}))
        manifests.append(path)
    text = corpus_stats(manifests, tmp_path / "t.md", repo / "workflow" / "paper_tables.yaml")
    assert "| Parallel corpora | Ar | El |" in text
    assert "| WikiMatrix | 999.8k (999.8k) | 620.0k (620.8k) |" in text
    assert "| News Commentary | 97.4k (97.4k) | - |" in text
    assert "| Total | 1097.2k (1097.2k) | 620.0k (620.8k) |" in text


def test_caps_are_the_configured_maxima_or_what_is_left_after_cleaning(corpora):
    d = corpora["dir"]
    prepare_corpus(
        "ar",
        [corpora["wm"], corpora["nc"], corpora["tsv"]],
        corpora["sources"],
        corpora["flores"],
        d / "ar.parquet",
        d / "ar.json",
        Settings(calibration=100),
    )  # 56 pairs survive
    (d / "zh.json").write_text(json.dumps({"lang": "zh", "pairs": 1000}))
    (d / "el.json").write_text(json.dumps({"lang": "el", "pairs": 30}))
    manifests = [d / "ar.json", d / "zh.json", d / "el.json"]
    # ar: the paper's 1097.2k, but 56 pairs exist here; zh: capped as configured; el: no configured maximum
    assert cleaned_caps({"ar": 1_097_200, "zh": 500}, manifests) == {"ar": 56, "zh": 500, "el": 30}
    with pytest.raises(UserError, match="no corpus manifest for hi"):
        cleaned_caps({"ar": 10, "hi": 5}, manifests)
    with pytest.raises(UserError, match="a second manifest for 'zh'"):
        cleaned_caps({}, manifests + [d / "zh.json"])
    (d / "bad.json").write_text("{}")
    with pytest.raises(UserError, match="bad.json: not a corpus manifest"):
        cleaned_caps(None, [d / "bad.json"])


def test_cli_demo_chain(tmp_path, python, repo):
    """The commands the workflow runs, on the demo's generated raw files."""
    from xllm.demo.make_data import make_demo_data

    mirror = tmp_path / "mirror"
    make_demo_data(
        mirror,
        tmp_path / "specs",
        {"near": {"name": "Nearish", "seed": 11, "lexicon_fraction": 0.3}},
        seed=7,
        pairs_per_language=300,
        n_dev=10,
        n_devtest=10,
        n_alpaca=20,
        n_qa_paragraphs=4,
    )
    sources = str(repo / "workflow" / "demo" / "sources.yaml")

    def xllm(*args):
        out = subprocess.run([python, "-m", "xllm", *map(str, args)], capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        return out

    names = ["WikiMatrix.en-near.tsv.gz", "alpaca_data.json", "xquad.near.json"]
    names += [f"flores101.{s}.{lang}.txt" for s in ("dev", "devtest") for lang in ("en", "near")]
    script = "; ".join(
        f"download({n!r}, {sources!r}, 'sources.lock', 'downloads/{n}', mirror={str(mirror)!r})" for n in names
    )
    subprocess.run(
        [python, "-c", f"from xllm.data.download import download; {script}"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    flores = []
    for split in ("dev", "devtest"):
        for lang in ("en", "near"):
            out = f"testsets/flores/{split}/{lang}.txt"
            xllm(
                "prepare-testset",
                "--task",
                "flores",
                "--lang",
                lang,
                "--split",
                split,
                "--input",
                f"downloads/flores101.{split}.{lang}.txt",
                "--sources",
                sources,
                "--out",
                out,
            )
            flores.append(out)
    xllm(
        "prepare-corpus",
        "--lang",
        "near",
        "--inputs",
        "downloads/WikiMatrix.en-near.tsv.gz",
        "--sources",
        sources,
        "--flores-exclude",
        *flores,
        "--out",
        "corpora/near/clean.parquet",
        "--manifest",
        "corpora/near/manifest.json",
    )
    manifest = json.loads((tmp_path / "corpora/near/manifest.json").read_text())
    wm = manifest["corpora"]["wikimatrix"]
    assert manifest["pairs"] == wm["kept"] == 300  # the demo's noise rows are all removed
    assert wm["after"]["contamination"] < wm["after"]["duplicate"] < wm["after"]["margin"] < wm["read"]
    xllm(
        "subset-corpus",
        "--corpus",
        "corpora/near/clean.parquet",
        "--scale",
        "100",
        "--seed",
        "7",
        "--out",
        "corpora/near/scale-100.jsonl",
    )
    assert len((tmp_path / "corpora/near/scale-100.jsonl").read_text().splitlines()) == 100
    xllm("prepare-alpaca", "--input", "downloads/alpaca_data.json", "--out", "alpaca/en.json")
    xllm(
        "prepare-testset",
        "--task",
        "xquad",
        "--lang",
        "near",
        "--input",
        "downloads/xquad.near.json",
        "--sources",
        sources,
        "--out",
        "testsets/xquad/near.json",
    )
    xllm("corpus-stats", "--manifests", "corpora/near/manifest.json", "--out", "tables/corpus_stats.md")
    assert "| WikiMatrix | 300 |" in (tmp_path / "tables/corpus_stats.md").read_text()
    bad = subprocess.run(
        [
            python,
            "-m",
            "xllm",
            "subset-corpus",
            "--corpus",
            "corpora/near/clean.parquet",
            "--scale",
            "5000",
            "--seed",
            "7",
            "--out",
            "x.jsonl",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "scale 5000 is larger than the corpus (300 pairs)" in bad.stderr


def test_seen_hashes_matches_a_python_set():
    import numpy as np

    from xllm.data.clean import SeenHashes

    rng = np.random.default_rng(0)
    seen, reference = SeenHashes(), set()
    for _ in range(300):
        batch = rng.integers(0, 5000, size=int(rng.integers(0, 200))).astype(np.uint64)
        expected = []
        for value in batch.tolist():
            expected.append(value not in reference)
            reference.add(value)
        assert seen.first_seen(batch).tolist() == expected
    assert len(seen) == len(reference) and len(seen.runs) < 12


def test_abandoned_reader_exits_cleanly(corpora, python):
    """A reader left mid-file (an error elsewhere, or exit) must not abort the interpreter."""
    script = (
        "import sys; from pathlib import Path; import xllm.data.readers as r\n"
        "from xllm.data.sources import load_sources\n"
        "r.BLOCK_BYTES = 40\n"  # one line a block: the reader thread is blocked mid-file
        f"src = load_sources({str(corpora['sources'])!r})[{corpora['tsv'].name!r}]\n"
        f"g = r.read_batches(Path({str(corpora['tsv'])!r}), src, 'ar')\n"
        "next(g)\n"
        "sys.exit(3)\n"
    )
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr


def test_a_download_edited_after_its_verification_is_refused_where_it_is_read(tmp_path, capsys):
    """prepare-* check each downloaded file against its pinned or locked sha256 before reading it."""
    import hashlib

    from xllm.cli import main
    from xllm.data import lock as lockfile

    plain = tmp_path / "flores101.dev.en.txt"
    plain.write_text("one\ntwo\n")
    sources = write_sources(
        tmp_path, {plain.name: {"corpus": "flores", "langs": ["en"], "format": "flores-plain", "split": "dev"}}
    )
    lock = tmp_path / "sources.lock"
    lockfile.record(
        lock, plain.name, hashlib.sha256(plain.read_bytes()).hexdigest(), plain.stat().st_size, "https://example.org/x"
    )
    out = tmp_path / "en.txt"
    args = [
        "prepare-testset",
        "--task",
        "flores",
        "--lang",
        "en",
        "--split",
        "dev",
        "--input",
        str(plain),
        "--sources",
        str(sources),
        "--lock",
        str(lock),
        "--out",
        str(out),
    ]
    assert main(args) == 0 and out.read_text() == "one\ntwo\n"
    out.unlink()
    plain.write_text("one\nTWO\n")  # edited after its download was verified
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "flores101.dev.en.txt: sha256" in err and "changed after its download" in err and "\n" not in err
    assert not out.exists()
    corpus = tmp_path / "WikiMatrix.ar-en.tsv"
    corpus.write_text(f"1.2\t{good(1)[1]}\t{good(1)[0]}\n")
    sources = write_sources(
        tmp_path,
        {corpus.name: {"corpus": "wikimatrix", "langs": ["ar", "en"], "format": "wikimatrix-tsv", "sha256": "0" * 64}},
    )
    assert (
        main(
            [
                "prepare-corpus",
                "--lang",
                "ar",
                "--inputs",
                str(corpus),
                "--sources",
                str(sources),
                "--lock",
                str(lock),
                "--out",
                str(tmp_path / "c.parquet"),
                "--manifest",
                str(tmp_path / "m.json"),
            ]
        )
        == 2
    )
    assert "does not match " + "0" * 64 in capsys.readouterr().err and not (tmp_path / "c.parquet").exists()
