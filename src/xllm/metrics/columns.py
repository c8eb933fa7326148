"""The columns of the long score table (DESIGN.md), in order; importing this costs nothing."""

COLUMNS = (
    "model",
    "recipe",
    "lang",
    "scale",
    "budget",
    "alloc",
    "task",
    "direction",
    "metric",
    "value",
    "n",
    "ci_low",
    "ci_high",
    "signature",
)
