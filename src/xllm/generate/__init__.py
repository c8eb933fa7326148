"""Generation: a model's predictions on the evaluation test sets (FLORES, XQuAD, MLQA).

``tasks`` turns plan items into prompts (tasks as data in ``tasks.yaml``), ``engine`` decodes in
length-sorted, left-padded batches, ``run`` makes a plan's run resumable and atomic.
"""
