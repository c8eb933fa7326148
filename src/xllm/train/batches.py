"""Which examples each optimizer step sees, and how a micro-batch becomes tensors.

A step always consumes ``global_batch_size`` examples (the paper's batch is counted in examples),
whatever the packing, world size or accumulation: so packed and padded runs, and 1 or N
processes, see the same examples per step. The order is a pure function of (seed, epoch), so a
resumed run needs only its step number to continue where it stopped.

Packing flattens a micro-batch into one row: position ids restart at every example and the
attention (``xllm.train.attention``) is told the boundaries (``cu_seq_lens``), so no token attends
across examples and every computed token is a real one. The padded baseline pads to the longest
example of the micro-batch. Labels are shifted here, per example, so nothing is predicted across
a boundary.
"""

from __future__ import annotations

import functools
import random
from array import array

from ..errors import UserError
from .examples import IGNORE, Example


def grad_accumulation(global_batch: int, per_device: int, world: int) -> int:
    if global_batch <= 0 or per_device <= 0:
        raise UserError(
            f"--global-batch-size ({global_batch}) and --per-device-batch-size ({per_device}) must be positive"
        )
    if global_batch % (per_device * world):
        raise UserError(
            f"--global-batch-size {global_batch} is not divisible by --per-device-batch-size {per_device} "
            f"× world size {world}"
        )
    return global_batch // (per_device * world)


@functools.lru_cache(maxsize=2)
def epoch_order(n: int, seed: int, epoch: int) -> array:
    """The epoch's shuffled example order, computed once per epoch (not once per step: shuffling
    1.2M indices at each of an epoch's ~9,000 steps cost hours), as 8 bytes an example (a tuple
    of ints took ~36: 170 MB for the largest mixture). ``random.shuffle`` on the array draws
    what it draws on a list: the same order."""
    order = array("q", range(n))
    random.Random(f"xllm-train:{seed}:{epoch}").shuffle(order)
    return order


def steps_per_epoch(n: int, global_batch: int) -> int:
    """Full batches only (the remainder differs every epoch since each epoch is reshuffled)."""
    return n // global_batch


def step_micro_batches(
    n: int, seed: int, step: int, global_batch: int, per_device: int, rank: int = 0, world: int = 1
) -> list[list[int]]:
    """Example indices of this rank's micro-batches for global ``step`` (0-based)."""
    per_epoch = steps_per_epoch(n, global_batch)
    epoch, k = divmod(step, per_epoch)
    order = epoch_order(n, seed, epoch)
    batch = order[k * global_batch : (k + 1) * global_batch]
    mine = batch[rank::world]
    return [list(mine[i : i + per_device]) for i in range(0, len(mine), per_device)]


def shifted_targets(ex: Example) -> list[int]:
    return ex.labels[1:] + [IGNORE]


def collate_packed(examples: list[Example]):
    """One flat row: ids, restarting position ids, shifted targets and the boundaries."""
    import torch

    ids, pos, tgt, cu = [], [], [], [0]
    for ex in examples:
        ids.extend(ex.input_ids)
        pos.extend(range(len(ex)))
        tgt.extend(shifted_targets(ex))
        cu.append(cu[-1] + len(ex))
    lengths = [len(ex) for ex in examples]
    return {
        "input_ids": torch.tensor([ids], dtype=torch.long),
        "position_ids": torch.tensor([pos], dtype=torch.long),
        "targets": torch.tensor([tgt], dtype=torch.long),
        "cu_seq_lens": torch.tensor(cu, dtype=torch.int32),
        "max_length": max(lengths),
    }


def collate_padded(examples: list[Example], pad_id: int):
    """Right-padded to the longest example (dynamic padding, as stanford_alpaca trains)."""
    import torch

    width = max(len(ex) for ex in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    tgt = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for i, ex in enumerate(examples):
        n = len(ex)
        ids[i, :n] = torch.tensor(ex.input_ids)
        mask[i, :n] = 1
        tgt[i, :n] = torch.tensor(shifted_targets(ex))
    return {"input_ids": ids, "attention_mask": mask, "targets": tgt}
