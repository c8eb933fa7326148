"""The demo backend: the synthetic language's own deterministic translation of English-like text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


class DemoBackend:
    name = "demo"

    def __init__(self, spec_path: str | Path):
        from ..demo.synthetic import load_language

        self.language = load_language(spec_path)
        self.settings = {"backend": "demo", "spec": self.language.spec.__dict__}

    def translate(self, texts: list[str], on_batch: Callable[[int], None] | None = None) -> list[str]:
        out = [self.language.translate(text) for text in texts]
        if on_batch:
            on_batch(len(texts))
        return out
