"""Draw a single-label confusion matrix to PNG.

Uses `Figure` + `FigureCanvasAgg` directly rather than `matplotlib.use("Agg")` / pyplot, which
would switch the process-wide backend for whoever imported us.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np

MAX_LABELS = 30   # beyond this a matrix is unreadable; the most frequent gold labels are kept


def render_confusion(matrix: np.ndarray, labels: Sequence[str], title: str) -> bytes:
    """PNG bytes. Row-normalised colours (recall per gold label), raw counts written in the cells."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matrix, labels = _most_frequent(np.asarray(matrix), list(labels))
    n = len(labels)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    size = max(4.0, 0.45 * n + 2)
    fig = Figure(figsize=(size + 1, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of gold row")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=10)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    return buffer.getvalue()


def _most_frequent(matrix: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    if len(labels) <= MAX_LABELS:
        return matrix, labels
    keep = np.sort(np.argsort(-matrix.sum(axis=1), kind="stable")[:MAX_LABELS])
    return matrix[np.ix_(keep, keep)], [labels[i] for i in keep]
