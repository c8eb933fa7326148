"""Run under ``accelerate launch``: ``xllm.train.loop.train`` with a JSON config (TrainConfig fields and
``stop_after``), for options the ``xllm train`` command line does not have (``max_shard_size``)."""

import json
import sys

from xllm.train.loop import TrainConfig, train

if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    stop_after = spec.pop("stop_after", None)
    train(TrainConfig(**spec), stop_after=stop_after)
