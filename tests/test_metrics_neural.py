"""COMET and BLEURT through their real loaders and scorers, offline, on tiny random-weight models
built here from configs (an XLM-R-shaped encoder with a SentencePiece-derived tokenizer, saved
in the layout each library's loader expects)."""

import io
import json
from pathlib import Path

import pytest

from xllm.cli import main

REFS = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "the park is green and the dog ran in the park with a cat on the mat for a long time",
]
HYPS = ["the cat sat", "a dog ran in the park", "the park is green"]
SRCS = ["el gato se sentó", "der Hund lief", "le chat est noir"]
TEXT = REFS + HYPS + SRCS + ["猫坐在垫子上"]
# Encoder limits in tokens. COMET encodes src, mt and ref separately and cuts each to
# max_position_embeddings - 4 tokens: 18 here, one fewer than the first reference (19 tokens) and
# far fewer than the third (62), so exactly two segments must be counted as truncated.
MAX_POSITIONS = 18
BLEURT_MAX = 48  # BLEURT encodes each (reference, candidate) pair together: only the third is over


def _spm(path: Path) -> Path:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXT * 10),
        model_writer=model,
        vocab_size=40,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())
    return path


def _write(path: Path, lines) -> str:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def _xlmr_encoder(root: Path) -> Path:
    """Tokenizer (XLM-R's special-token layout over a Unigram vocabulary) and config of a tiny XLM-R."""
    import sentencepiece as spm
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import XLMRobertaConfig, XLMRobertaTokenizerFast

    sp = spm.SentencePieceProcessor(model_file=str(_spm(root / "spm.model")))
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(sp.id_to_piece(i), sp.get_score(i)) for i in range(3, sp.get_piece_size())] + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    encoder = root / "encoder"
    XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=MAX_POSITIONS,
    ).save_pretrained(encoder)
    XLMRobertaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_POSITIONS + 4,
    ).save_pretrained(encoder)
    return encoder


@pytest.mark.slow
def test_comet_loads_a_local_checkpoint_offline_and_scores(tmp_path, capsys):
    import pytorch_lightning as pl
    import torch
    import yaml
    from comet.models import RegressionMetric

    from xllm.errors import UserError
    from xllm.metrics.neural import load_comet

    encoder = _xlmr_encoder(tmp_path)
    torch.manual_seed(0)
    model = RegressionMetric(pretrained_model=str(encoder), load_pretrained_weights=False, hidden_sizes=[16])
    comet_dir = tmp_path / "wmt22-comet-tiny"
    (comet_dir / "checkpoints").mkdir(parents=True)
    hparams = dict(model.hparams)
    torch.save(
        {"state_dict": model.state_dict(), "hyper_parameters": hparams, "pytorch-lightning_version": pl.__version__},
        comet_dir / "checkpoints" / "model.ckpt",
    )
    (comet_dir / "hparams.yaml").write_text(yaml.safe_dump(hparams))

    hyp, ref, src = _write(tmp_path / "hyp", HYPS), _write(tmp_path / "ref", REFS), _write(tmp_path / "src", SRCS)
    assert (
        main(
            [
                "score-mt",
                "--hyp",
                hyp,
                "--ref",
                ref,
                "--src",
                src,
                "--lang",
                "en",
                "--metric",
                "comet",
                "--model",
                str(comet_dir),
                "--device",
                "cpu",
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    out = json.loads(captured.out)  # stdout holds only the JSON (Lightning chatter goes to stderr)
    assert set(out) == {"metric", "score", "n", "signature"}
    assert out["metric"] == "comet" and out["n"] == 3
    assert f"comet: 2 of 3 inputs over the model's maximum length ({MAX_POSITIONS} tokens)" in captured.err
    assert out["signature"] == "comet|model:wmt22-comet-tiny|version:2.2.7|scale:100"
    # The score is the mean of COMET's own segment scores of the reloaded checkpoint, times 100.
    reference = load_comet(comet_dir).predict(
        [{"src": s, "mt": h, "ref": r} for s, h, r in zip(SRCS, HYPS, REFS)], batch_size=8, gpus=0, progress_bar=False
    )
    assert out["score"] == pytest.approx(100 * sum(reference.scores) / 3, rel=1e-5)
    # Without the source sentences, or with an encoder that is not on disk: one clear error.
    assert (
        main(["score-mt", "--hyp", hyp, "--ref", ref, "--lang", "en", "--metric", "comet", "--model", str(comet_dir)])
        == 2
    )
    assert "comet needs the source sentences" in capsys.readouterr().err
    with pytest.raises(UserError, match="not available offline"):
        load_comet(comet_dir, encoder="nobody/no-such-encoder")


@pytest.mark.slow
def test_bleurt_loads_a_local_model_and_scores_generations(tmp_path):
    import torch
    from bleurt_pytorch import BleurtConfig, BleurtForSequenceClassification
    from bleurt_pytorch.bleurt.tokenization_bleurt_sp import BleurtSPTokenizer

    # BLEURT-20's layout: a SentencePiece tokenizer (spm.model) beside config and weights.
    bleurt_dir = tmp_path / "BLEURT-tiny"
    tokenizer = BleurtSPTokenizer(vocab_file=str(_spm(tmp_path / "spm.model")))
    tokenizer.save_pretrained(bleurt_dir)
    torch.manual_seed(0)
    config = BleurtConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=BLEURT_MAX,
        embedding_size=16,
    )
    model = BleurtForSequenceClassification(config).eval()
    model.save_pretrained(bleurt_dir)

    gen = tmp_path / "gen" / "flores"
    gen.mkdir(parents=True)
    _write(
        gen / "en-far.jsonl",
        [json.dumps({"id": i, "prediction": h, "reference": r}) for i, (h, r) in enumerate(zip(HYPS, REFS))],
    )
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            [{"task": "flores", "direction": "en-far", "lang": "far", "source": "unused", "reference": "unused"}]
        )
    )
    out = tmp_path / "scores.csv"
    assert (
        main(
            [
                "score-generations",
                "--generations-dir",
                str(tmp_path / "gen"),
                "--plan",
                str(plan),
                "--model",
                "muit/800",
                "--mt-metrics",
                "bleurt",
                "--bleurt-model",
                str(bleurt_dir),
                "--batch-size",
                "2",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    import csv

    (row,) = list(csv.DictReader(open(out, encoding="utf-8")))
    assert row["metric"] == "bleurt" and row["n"] == "3" and row["signature"].startswith("bleurt|model:BLEURT-tiny")
    # Same numbers as BLEURT's documented use (reference first, candidate second), one pair at a time.
    expected = []
    with torch.inference_mode():
        for r, h in zip(REFS, HYPS):
            batch = tokenizer([r], [h], truncation=True, max_length=BLEURT_MAX, return_tensors="pt")
            expected.append(model(**batch).logits.flatten().item())
    assert float(row["value"]) == pytest.approx(100 * sum(expected) / 3, abs=1e-3)
    details = json.loads(Path(f"{out}.json").read_text())["details"]
    assert details[0]["n_over_max_length"] == 1 and details[0]["max_length"] == BLEURT_MAX
