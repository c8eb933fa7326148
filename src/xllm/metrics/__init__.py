"""Metrics with their real implementations: sacrebleu, COMET, BLEURT, MLQA-normalized QA, bootstrap."""
