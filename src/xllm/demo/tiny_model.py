"""A tiny Llama with a byte-level tokenizer, built from a config (no download).

Byte-level, like LLaMA on scripts it barely knows: every language is representable and nothing
about the synthetic languages leaks into the vocabulary. The tokenizer is a ``tokenizers`` BPE
with no merges over GPT-2's byte alphabet, so it gives character offsets (training masks labels
by offsets) and decodes any byte sequence.
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
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        model_max_length=1024,
    )


def make_tiny_llama(out_dir: str | Path, hidden_size: int, layers: int, heads: int, max_length: int,
                    seed: int, prompt_style: str = "compact") -> Path:
    """Write a randomly initialized LlamaForCausalLM and its tokenizer to ``out_dir`` (atomically)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = byte_tokenizer()
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
