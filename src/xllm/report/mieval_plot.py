"""Figure 4, right panel: the m-model against the x-models on MI-Eval, judged pairwise.

One horizontal bar per language split into the m-model's wins, ties and the x-model's wins (% of
the judged instructions; each instruction is judged in both answer orders and each answer's two
scores averaged, ``xllm.metrics.judge.judge_pairwise``). Input: the ``judge-pairwise`` results,
``results/mieval/{lang}.json`` with the x-model as ``a`` and the m-model as ``b``.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import read_json
from ..errors import UserError
from .figure import COLORS, pyplot, save_png
from .inputs import lang_label


def win_tie_lose(path: str | Path) -> dict:
    """{lang, n, m_win, tie, m_lose} (percent) of one judge-pairwise result (a = x, b = m)."""
    doc = read_json(path, "a judge-pairwise result", dict)
    try:
        n = int(doc["n"])
        wins, ties, losses = int(doc["b_wins"]), int(doc["ties"]), int(doc["a_wins"])
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path}: not a judge-pairwise result ({err})") from None
    if n == 0:
        raise UserError(f"{path}: no judged instruction (n = 0)")
    return {
        "lang": doc.get("direction") or Path(path).stem,
        "n": n,
        "m_win": 100.0 * wins / n,
        "tie": 100.0 * ties / n,
        "m_lose": 100.0 * losses / n,
    }


def plot_mieval(results: list[str | Path], out: str | Path, names: dict[str, str] | None = None) -> Path:
    rows = [win_tie_lose(p) for p in results]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(rows) + 1.2))
    ys = range(len(rows))
    left = [0.0] * len(rows)
    for key, label, color in (
        ("m_win", "m-model wins", COLORS["m"]),
        ("tie", "tie", COLORS["baseline"]),
        ("m_lose", "x-model wins", COLORS["x"]),
    ):
        widths = [r[key] for r in rows]
        ax.barh(list(ys), widths, left=left, color=color, label=label)
        for y, x0, w in zip(ys, left, widths):
            if w >= 8:
                ax.text(x0 + w / 2, y, f"{w:.0f}%", ha="center", va="center", fontsize=7, color="white")
        left = [a + b for a, b in zip(left, widths)]
    ax.set_yticks(list(ys), [f"{lang_label(r['lang'], names or {})} (n={r['n']})" for r in rows])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of MI-Eval instructions (judged in both answer orders)")
    ax.set_title("MI-Eval: m-model vs x-model (the paper's Figure 4, right)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
    return save_png(fig, out, [str(p) for p in results])
