"""The pad-token policy of fine-tuning, for tokenizers without a pad token (LLaMA's).

``add`` (the authors', stanford_alpaca's ``smart_tokenizer_and_embedding_resize``): a "<pad>"
token is added, the embeddings are resized, and the new rows of the input and output embeddings
are set to the mean of the old rows. The model and tokenizer saved after training carry it, so the
output softmax has one row more than the base model's. ``eos``: nothing is added and padding
uses the EOS id (padded positions are masked either way, so only that extra row differs).
"""

from __future__ import annotations

PAD_POLICIES = ("add", "eos")
PAD_TOKEN = "<pad>"


def apply_pad_policy(model, tokenizer, policy: str = "add") -> int | None:
    """Give ``tokenizer`` (and ``model``) a pad token under ``policy``; return the id padding uses."""
    if policy not in PAD_POLICIES:
        raise ValueError(f"pad token policy {policy!r} is not one of {', '.join(PAD_POLICIES)}")
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    if policy == "eos":
        return tokenizer.eos_token_id
    import torch

    added = tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    pad_id = tokenizer.pad_token_id
    model.config.pad_token_id = pad_id
    if not added:  # "<pad>" was in the vocabulary already: its row stays, as in the authors' code
        return pad_id
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        # mean_resizing=False: transformers would sample the new rows; the authors set the mean.
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    old = [i for i in range(model.get_input_embeddings().weight.shape[0]) if i != pad_id][: len(tokenizer) - 1]
    with torch.no_grad():
        weights = [model.get_input_embeddings().weight]
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != weights[0].data_ptr():  # untied
            weights.append(out.weight)
        for weight in weights:
            weight[pad_id] = weight[old].mean(dim=0)
    return pad_id
