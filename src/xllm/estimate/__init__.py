"""``xllm estimate``: tokens and GPU-hours of every job of the configured grid, before anything runs."""
