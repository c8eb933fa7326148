"""Language similarity γ and the Figure 5 alignment data, on a tiny byte-level Llama built here."""

import json

import numpy as np
import pytest

from xllm.cli import main
from xllm.scaling.alignment import pca_2d
from xllm.scaling.similarity import gamma_from_vectors

ENGLISH = [
    "the cat sat on the warm mat",
    "a dog runs in the park today",
    "we read books at night",
    "my brother plays music well",
    "she writes long letters home",
    "the river flows to the sea",
    "children learn fast at school",
    "the market opens early here",
    "rain fell on the old roof",
    "he cooks rice with beans",
    "birds sing before the sun rises",
    "the train leaves at noon",
]
CYRILLIC = dict(zip("abcdefghijklmnopqrstuvwxyz", "абцдефгхийклмнопярстужвьыз"))


def to_cyrillic(text: str) -> str:
    return "".join(CYRILLIC.get(c, c) for c in text)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from xllm.demo.tiny_model import make_tiny_llama

    root = tmp_path_factory.mktemp("similarity")
    make_tiny_llama(root / "base", hidden_size=32, layers=2, heads=2, max_length=128, seed=3)
    (root / "en.txt").write_text("\n".join(ENGLISH) + "\n")
    (root / "same.txt").write_text("\n".join(ENGLISH) + "\n")
    (root / "near.txt").write_text("\n".join(s.replace("the", "da").replace("a ", "e ") for s in ENGLISH) + "\n")
    (root / "far.txt").write_text("\n".join(to_cyrillic(s)[::-1] for s in ENGLISH) + "\n")
    return root


def test_gamma_formula_limits():
    rng = np.random.default_rng(0)
    en = rng.normal(size=(50, 8))
    assert gamma_from_vectors(en, en.copy())["gamma"] == pytest.approx(1 - 1e-6)
    mirrored = gamma_from_vectors(en, -en)  # centered: every pair points opposite
    assert mirrored["gamma"] < 0.05 and mirrored["retrieval_accuracy"] < 0.2
    noisy = gamma_from_vectors(en, en + rng.normal(scale=0.5, size=en.shape))
    assert 0.5 < noisy["gamma"] < 1 and noisy["retrieval_accuracy"] > 0.9


def _similarity(corpus, lang, *extra):
    out = corpus / "out" / f"{lang}.json"
    assert (
        main(
            [
                "similarity",
                "--base",
                str(corpus / "base"),
                "--en",
                str(corpus / "en.txt"),
                "--x",
                str(corpus / f"{lang}.txt"),
                "--lang",
                lang,
                "--out",
                str(out),
                *extra,
            ]
        )
        == 0
    )
    return json.loads(out.read_text())


def test_similarity_orders_languages_by_distance_from_english(corpus):
    same, near, far = (_similarity(corpus, lang) for lang in ("same", "near", "far"))
    assert same["gamma"] == pytest.approx(1.0, abs=1e-5)
    assert 0 < far["gamma"] < near["gamma"] < same["gamma"] < 1
    assert far["gamma_source"] == "computed" and far["computed"]["n_sentences"] == len(ENGLISH)
    assert far["computed"]["layer"] == 1 and "formula" in far and "provenance" in far


def test_configured_gamma_wins_without_loading_a_model(corpus):
    out = corpus / "out" / "cfg.json"
    assert (
        main(
            [
                "similarity",
                "--base",
                str(corpus / "missing"),
                "--en",
                str(corpus / "en.txt"),
                "--x",
                str(corpus / "far.txt"),
                "--lang",
                "far",
                "--gamma",
                "0.42",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    record = json.loads(out.read_text())
    assert record["gamma"] == 0.42 and record["gamma_source"] == "config"


def test_similarity_rejects_misaligned_files(corpus, capsys):
    (corpus / "short.txt").write_text("one line\n")
    assert (
        main(
            [
                "similarity",
                "--base",
                str(corpus / "base"),
                "--en",
                str(corpus / "en.txt"),
                "--x",
                str(corpus / "short.txt"),
                "--lang",
                "xx",
                "--out",
                str(corpus / "out" / "x.json"),
            ]
        )
        == 2
    )
    assert "must be line-aligned" in capsys.readouterr().err


def test_alignment_per_model_language_layer_and_projection(corpus):
    out = corpus / "out" / "alignment.json"
    args = [
        "alignment",
        "--model",
        f"base={corpus / 'base'}",
        "--model",
        f"tuned={corpus / 'base'}",
        "--en",
        str(corpus / "en.txt"),
        "--x",
        f"same={corpus / 'same.txt'}",
        "--x",
        f"far={corpus / 'far.txt'}",
        "--max-sentences",
        "8",
        "--seed",
        "5",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert set(data["models"]) == {"base", "tuned"} and len(data["line_numbers"]) == 8
    base = data["models"]["base"]
    assert [row["layer"] for row in base["languages"]["far"]["layers"]] == [0, 1, 2]
    assert all(row["cosine"] == pytest.approx(1.0, abs=1e-5) for row in base["languages"]["same"]["layers"])
    assert base["languages"]["far"]["layers"][-1]["cosine_centered"] < 0.99
    assert {k: len(v) for k, v in base["projection"].items()} == {"en": 8, "same": 8, "far": 8}
    assert base["projection"]["en"] == base["projection"]["same"]  # identical sentences, identical points
    assert main(args) == 0 and json.loads(out.read_text())["line_numbers"] == data["line_numbers"]


def test_pca_projection_is_sign_stable():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(20, 5)) * [5, 2, 1, 0.5, 0.1]
    p1, r1 = pca_2d(v)
    p2, _ = pca_2d(v[::-1])
    np.testing.assert_allclose(p1[::-1], p2, atol=1e-9)
    assert r1[0] > r1[1] > 0
