"""xllm: extrapolating English LLMs to other languages by aligning languages (Zhu et al., 2023).

One subpackage per pipeline stage (data, translate, mixture, train, generate, metrics, scaling,
report), plus ``demo`` (synthetic languages and tiny models) and ``cli``. A stage never imports a
later stage; shared helpers (errors, atomic writes, provenance, languages) live at the top level.
"""

__version__ = "0.1.0"
