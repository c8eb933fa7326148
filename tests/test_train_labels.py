"""Label masking on a real BPE trained here: merges across the prompt/response boundary, EOS,
truncation and the all-masked guard."""

import pytest

from xllm.errors import UserError
from xllm.prompts import format_prompt
from xllm.train.examples import IGNORE, encode_instruction, encode_rows, encode_text

PROMPT_END = ">>>"  # the response follows with no space, so BPE merges across the boundary


@pytest.fixture(scope="module")
def bpe():
    """A BPE without pre-tokenization, trained on text where '>>>' + response starts are frequent."""
    from tokenizers import Tokenizer, decoders, models, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>", "<unk>"], show_progress=False)
    corpus = [f"say {w}{PROMPT_END}{w}{w} ok" for w in ("ab", "cd", "abc", "xyz", "ok", "hi")] * 50
    tok.train_from_iterator(corpus, trainer)
    tok.decoder = decoders.BPEDecoder()
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def _offsets(tok, text):
    enc = tok(text, return_offsets_mapping=True)
    return enc["input_ids"], enc["offset_mapping"]


def test_merge_across_boundary_is_trained_and_prompt_only_tokens_are_not(bpe):
    prompt, response = f"say ab{PROMPT_END}", "abab ok"
    ids, offsets = _offsets(bpe, prompt + response)
    boundary = len(prompt)
    straddling = [i for i, (s, e) in enumerate(offsets) if s < boundary < e]
    assert straddling, "the test tokenizer must merge across the boundary"
    ex, truncated = encode_instruction(bpe, prompt, response, max_len=64)
    assert not truncated
    assert ex.input_ids[:-1] == ids and ex.input_ids[-1] == bpe.eos_token_id
    for i, (_, e) in enumerate(offsets):
        if e <= boundary:  # BOS (0, 0) and prompt-only tokens
            assert ex.labels[i] == IGNORE
        else:
            assert ex.labels[i] == ids[i]
    assert ex.labels[-1] == bpe.eos_token_id  # EOS is trained
    # The trained tokens cover the whole response: nothing of it is lost to the mask.
    covered = "".join((prompt + response)[s:e] for (s, e), lab in zip(offsets, ex.labels) if lab != IGNORE)
    assert covered.endswith(response)


def test_tokenizing_the_prompt_separately_would_shift_the_mask(bpe):
    prompt, response = f"say ab{PROMPT_END}", "abab ok"
    separate = len(bpe(prompt)["input_ids"])
    ex, _ = encode_instruction(bpe, prompt, response, max_len=64)
    first_trained = next(i for i, lab in enumerate(ex.labels) if lab != IGNORE)
    assert first_trained != separate  # the naive mask is off by the merged token


def test_prompt_filling_max_length_is_dropped_and_counted(bpe):
    rows = [
        {"instruction": "say " + "ab " * 40, "input": "", "output": "ok"},  # prompt alone > max
        {"instruction": "say ab", "input": "", "output": "hi " * 40},  # response truncated
        {"instruction": "say cd", "input": "", "output": "ok"},
    ]
    examples, stats = encode_rows(rows, bpe, "compact", max_len=24)
    assert stats.dropped_all_masked == 1 and stats.truncated == 2 and stats.examples == 2
    assert all(len(e) <= 24 and e.n_targets > 0 for e in examples)
    with pytest.raises(UserError, match="no trainable example"):
        encode_rows(rows[:1], bpe, "compact", max_len=24, source="mix.jsonl")


def test_text_rows_train_every_token_and_are_chunked(bpe):
    chunks = encode_text(bpe, "abab ok " * 20, max_len=16)
    assert len(chunks) > 1 and all(len(c) <= 16 for c in chunks)
    assert chunks[0].labels[0] == IGNORE  # BOS
    assert all(lab != IGNORE for c in chunks for lab in c.labels[1:])
    assert chunks[-1].labels[-1] == bpe.eos_token_id


def test_rows_need_text_or_instruction_and_output(bpe):
    with pytest.raises(UserError, match="mix.jsonl: row 2"):
        encode_rows([{"text": "ok"}, {"instruction": "x"}], bpe, "alpaca", 32, source="mix.jsonl")


def test_prompt_is_the_shared_format(bpe):
    rows = [{"instruction": "say ab", "input": "cd", "output": "ok"}]
    (ex,), _ = encode_rows(rows, bpe, "compact", max_len=64)
    prompt = format_prompt("say ab", "cd", "compact")
    assert ex.input_ids[:-1] == bpe(prompt + "ok")["input_ids"]


def test_a_tokenizer_saved_with_padding_and_truncation_encodes_whole_rows(bpe, tmp_path):
    """A tokenizer.json written after a padded, truncated call keeps those settings; transformers
    resets them around its own calls, and the fast path must not inherit them either."""
    from transformers import AutoTokenizer

    bpe("say ab", padding="max_length", max_length=4, truncation=True)
    bpe.save_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok.backend_tokenizer.truncation and tok.backend_tokenizer.padding  # as saved
    text = "say abc ok xyz ok hi ok " * 3
    rows = [{"text": text}, {"instruction": "say", "input": "", "output": " abcabc ok" * 4}]
    store, _ = encode_rows(rows, tok, "compact", 64)  # the first call to this tokenizer
    reference = AutoTokenizer.from_pretrained(tmp_path)
    assert store[0] == encode_text(reference, text, 64)[0] and len(store[0]) > 4
    prompt = format_prompt("say", "", "compact")
    assert store[1] == encode_instruction(reference, prompt, " abcabc ok" * 4, 64)[0]
