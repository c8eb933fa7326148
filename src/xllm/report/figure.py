"""Shared matplotlib setup: headless backend, one palette, atomic PNG files with provenance.

The provenance JSON goes into the PNG's ``Comment`` text chunk, so a figure copied out of
results/ still says which commit and inputs drew it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_open
from ..provenance import provenance

# Colour-blind-safe (Okabe-Ito); the same role gets the same colour in every figure.
COLORS = {
    "baseline": "#999999",
    "x": "#0072B2",
    "m": "#D55E00",
    "uniform": "#56B4E9",
    "optimized": "#E69F00",
    "en": "#7f7f7f",
}
# Models and languages share a figure in Figure 5, so they draw from disjoint colours.
MODEL_CYCLE = ["#0072B2", "#D55E00", "#000000", "#7F3C8D", "#8C564B"]
LANG_CYCLE = ["#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#17BECF", "#BCBD22", "#E377C2"]


def pyplot():
    """pyplot on the Agg backend (no display on cluster nodes), with readable defaults."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "font.size": 9,
            "axes.titlesize": 10,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.fontsize": 8,
            "legend.frameon": False,
        }
    )
    return plt


def save_png(fig, out: str | Path, inputs: list[str], **extra) -> Path:
    """Write ``fig`` to ``out`` atomically, stamped with provenance, and close it."""
    plt = pyplot()
    record = provenance(inputs=[str(p) for p in inputs], **extra)
    out = Path(out)
    with atomic_open(out, "wb") as handle:
        fig.savefig(
            handle,
            format="png",
            bbox_inches="tight",
            metadata={"Software": "xllm", "Comment": json.dumps(record, sort_keys=True)},
        )
    plt.close(fig)
    return out


def grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = max(1, min(max_cols, n))
    rows = (n + cols - 1) // cols
    return rows, cols
