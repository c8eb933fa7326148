"""The demo's base model: word tokens with attached spaces, and pre-training in rounds until it copies."""

import json

import pytest

from xllm.demo.pretrain import RECORD, copy_nll, echo, pretrain_until_copying
from xllm.demo.tiny_model import bpe_tokenizer, make_tiny_llama
from xllm.prompts import format_prompt
from xllm.train.loop import TrainConfig

SENTENCES = [
    f"the {a} {n} sees a {b} {m} ."
    for a, b in (("red", "old"), ("tall", "calm"), ("wild", "dark"))
    for n, m in (("fox", "king"), ("boat", "river"), ("cat", "queen"))
]


def test_bpe_keeps_a_word_and_its_space_one_token_and_prompts_a_prefix():
    tok = bpe_tokenizer(SENTENCES * 20 + ["Translate the following sentences from English to Farish.\n>>> "] * 20, 400)
    pieces = tok.convert_ids_to_tokens(tok("the red fox sees a")["input_ids"])
    assert pieces == ["<s>", "theĠ", "redĠ", "foxĠ", "seesĠ", "a"]
    for text in SENTENCES:
        prompt = format_prompt("Translate the following sentences from English to Farish.", text, "compact")
        alone, joined = tok(prompt)["input_ids"], tok(prompt + text)["input_ids"]
        assert joined[: len(alone)] == alone  # generation sees the prompt tokens training saw
        assert tok.decode(joined, skip_special_tokens=True) == prompt + text


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    base = make_tiny_llama(
        root / "init",
        hidden_size=32,
        layers=2,
        heads=4,
        max_length=128,
        seed=0,
        prompt_style="compact",
        texts=SENTENCES * 20,
        vocab_size=300,
    )
    data = root / "english.jsonl"
    data.write_text("".join(json.dumps({"text": echo(s)}) + "\n" for s in SENTENCES * 4))
    return root, base, data


def config(root, base, data, out="base-model"):
    return TrainConfig(
        base=str(base),
        data=str(data),
        out=str(root / out),
        checkpoint_dir=str(root / "work"),
        learning_rate=3e-3,
        global_batch_size=8,
        per_device_batch_size=8,
        max_seq_length=64,
        packing=True,
        lr_scheduler="constant_with_warmup",
        threads=1,
        seed=3,
    )


def test_copy_nll_falls_as_the_model_learns_to_echo(tiny):
    root, base, data = tiny
    before = copy_nll(base, SENTENCES[:3])
    pretrain_until_copying(
        config(root, base, data, "learned"),
        SENTENCES[:3],
        first_epochs=30,
        round_epochs=1,
        max_rounds=1,
        threshold=0.01,
        work_dir=root / "work-learned",
    )
    assert copy_nll(root / "learned", SENTENCES[:3]) < before / 2


def test_rounds_stop_at_the_threshold_record_it_and_resume(tiny):
    root, base, data = tiny
    work = root / "work-rounds"
    cfg = config(root, base, data)
    rounds = pretrain_until_copying(cfg, SENTENCES[:3], 1, 1, max_rounds=2, threshold=1e-6, work_dir=work)
    assert [r["round"] for r in rounds] == [1, 2]  # never below 1e-6: all rounds, and said so
    record = json.loads((root / "base-model" / RECORD).read_text())
    assert record["copies"] is False and record["rounds"] == rounds
    # A rerun (the job was killed after round 2) trains nothing again, and stops at once when met.
    stamp = (work / "round-1" / "model.safetensors").stat().st_mtime_ns
    rounds = pretrain_until_copying(cfg, SENTENCES[:3], 1, 1, max_rounds=3, threshold=1e3, work_dir=work)
    assert [r["round"] for r in rounds] == [1]
    assert (work / "round-1" / "model.safetensors").stat().st_mtime_ns == stamp
    assert json.loads((root / "base-model" / RECORD).read_text())["copies"] is True
