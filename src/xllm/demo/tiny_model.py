"""A tiny Llama with a byte-level tokenizer, built from a config (no download).

The tokenizer is a ``tokenizers`` byte-level BPE over GPT-2's byte alphabet: any text is
representable and it gives character offsets (training masks labels by offsets). Without
training texts it has no merges (pure bytes). With texts (the demo's training corpora) it
learns merges as a real LLM's tokenizer does, so a demo word and the space after it are one
token. That makes copying a word one induction step (word-piece tokens interleaved with space
tokens made it two, and a 2-layer model did not learn to copy within a CPU budget; with spaces
attached it does, in ~800 steps). A space is attached to the *preceding* word, and newlines are
pieces of their own, so a prompt ending in ">>> " or "\n" tokenizes the same alone as inside a
training example (a following-word space would leave a lone space token at generation time).
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_dir, write_json
from ..prompts import STYLE_FILE

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


def byte_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=1024,
    )


def bpe_tokenizer(texts, vocab_size: int):
    """A byte-level BPE trained on ``texts`` (an iterable of strings)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"),
            pre_tokenizers.Split(Regex(r"[^ \n]+ ?"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", bos)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=1024,
    )


def make_tiny_llama(
    out_dir: str | Path,
    hidden_size: int,
    layers: int,
    heads: int,
    max_length: int,
    seed: int,
    prompt_style: str = "compact",
    texts=None,
    vocab_size: int = 1024,
) -> Path:
    """Write a randomly initialized LlamaForCausalLM and its tokenizer to ``out_dir`` (atomically).

    ``texts``: train the byte-level BPE on them (else bytes only, 260 tokens)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = byte_tokenizer() if texts is None else bpe_tokenizer(texts, vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=3 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        rope_theta=10000.0,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / STYLE_FILE, {"style": prompt_style})
    return Path(out_dir)
