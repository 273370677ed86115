"""The pictures of report.html, as PNG bytes: training curves, per-label F1, precision-recall and threshold
curves, label co-confusions (multi-label) or a confusion matrix (single-label).

Drawn with `Figure` + `FigureCanvasAgg` directly rather than pyplot, which would switch the process-wide
backend for whoever imported us.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from trainer import metric_names

MAX_BAR_LABELS = 40        # per-label F1 bars: the most frequent labels
N_CURVE_LABELS = 6         # precision-recall curves: the most frequent labels
MAX_HEATMAP_LABELS = 25    # co-confusion heatmap: the labels most involved in errors
DPI = 96


CHAR_INCHES = 0.065        # width of a character of an 8-point tick label, for margins


def _figure(width: float, height: float, left: float = 0.6, bottom: float = 0.55, right: float = 0.2,
            top: float = 0.35, wspace: float = 0.25):
    """A figure with margins given in inches (a layout engine would cost as much as the drawing)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=wspace)
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


# ---- training -------------------------------------------------------------------------------------------
def training_curves(rows: Sequence[dict]) -> bytes | None:
    """Loss (training, validation) and the validation scores per evaluation against the optimizer step, from
    train_log.jsonl rows; None when the log has no curve to draw (a one-step fit, or no log)."""
    train = [(r["step"], r["loss"]) for r in rows if _num(r.get("loss")) and _num(r.get("step"))]
    evals = [r for r in rows if _num(r.get("eval_loss")) and _num(r.get("step"))]
    if len(train) < 2 and not evals:
        return None
    score_keys = [k for k in dict.fromkeys(k for r in evals for k in r)
                  if k.startswith("eval_") and k.endswith(metric_names.HEADLINE)]
    fig = _figure(9.5, 3.4)
    loss_ax, score_ax = fig.subplots(1, 2)
    if train:
        loss_ax.plot(*zip(*train), label="training loss", color="C0", linewidth=1.4)
    if evals:
        loss_ax.plot([r["step"] for r in evals], [r["eval_loss"] for r in evals], "o-", label="validation loss",
                     color="C1", linewidth=1.4, markersize=4)
    loss_ax.set_xlabel("step")
    loss_ax.set_title("loss", fontsize=10)
    loss_ax.legend(fontsize=8)
    loss_ax.grid(alpha=0.3)
    for i, key in enumerate(score_keys):
        points = [(r["step"], r[key]) for r in evals if _num(r.get(key))]
        if points:
            score_ax.plot(*zip(*points), "o-", label=key[len("eval_"):].replace("_", "-"), color=f"C{i + 2}",
                          linewidth=1.4, markersize=4)
    score_ax.set_xlabel("step")
    score_ax.set_ylim(-0.02, 1.02)
    score_ax.set_title("validation scores during training (multi-label: at 0.5)", fontsize=10)
    if score_keys:
        score_ax.legend(fontsize=8)
    score_ax.grid(alpha=0.3)
    return _png(fig)


# ---- per label ------------------------------------------------------------------------------------------
def label_f1_bars(per_label: dict[str, dict], max_labels: int = MAX_BAR_LABELS) -> bytes | None:
    """Horizontal F1 bars of the labels with support, most frequent at the top, support written beside."""
    present = sorted(((label, m) for label, m in per_label.items() if m.get("support", 0) > 0),
                     key=lambda item: (-item[1]["support"], item[0]))[:max_labels]
    if not present:
        return None
    labels = [label for label, _ in present][::-1]
    f1 = np.array([m["f1"] for _, m in present][::-1], dtype=float)
    support = [m["support"] for _, m in present][::-1]
    fig = _figure(6.2, 0.2 * len(labels) + 1.0, left=CHAR_INCHES * max(map(len, labels)) + 0.25, top=0.15)
    ax = fig.add_subplot()
    from matplotlib import colormaps
    ax.barh(range(len(labels)), f1, color=colormaps["RdYlGn"](0.15 + 0.7 * f1), edgecolor="none")
    for y, (value, n) in enumerate(zip(f1, support)):
        ax.text(min(value, 0.8) + 0.01, y, f"{value:.2f}  (n={n})", va="center", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 (n = gold documents)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _pr_points(scores: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and the threshold of each point, predicting every score >= threshold."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], positives[order].astype(float)
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]   # one point per distinct threshold
    precision = tp[last] / np.maximum(tp[last] + fp[last], 1)
    recall = tp[last] / max(y.sum(), 1)
    return precision, recall, s[last]


def pr_curves(probs: np.ndarray, gold: np.ndarray, labels: Sequence[str], thresholds: np.ndarray | None = None,
              n: int = N_CURVE_LABELS) -> bytes | None:
    """Precision-recall curves of the `n` most frequent labels, one per label, with the decision point at
    each label's threshold (multi-label) or at the arg-max decision (single-label: no threshold given)."""
    gold = np.asarray(gold, dtype=bool)
    support = gold.sum(axis=0)
    top = [j for j in np.argsort(-support, kind="stable")[:n] if support[j] > 0]
    if not top:
        return None
    fig = _figure(6.2, 4.6)
    ax = fig.add_subplot()
    for i, j in enumerate(top):
        precision, recall, cut = _pr_points(probs[:, j], gold[:, j])
        color = f"C{i}"
        ax.plot(recall, precision, color=color, linewidth=1.4, label=f"{labels[j]} (n={support[j]})")
        if thresholds is not None:
            k = np.flatnonzero(cut >= thresholds[j])
            if k.size:
                ax.plot(recall[k[-1]], precision[k[-1]], "o", color=color, markersize=6)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    if thresholds is not None:
        ax.set_title("dots: the saved decision threshold", fontsize=9)
    return _png(fig)


def threshold_curves(scored: dict[str, tuple[np.ndarray, np.ndarray]], chosen: float | None = None) -> bytes | None:
    """Multi-label micro-F1 against one global threshold, per split ({split: (probs, gold)}); the 0.5 line and
    the tuned global threshold (when there is one) marked. The at-least-one rule is not applied here."""
    cuts = np.round(np.arange(0.02, 0.985, 0.02), 2)
    fig = _figure(6.2, 3.6)
    ax = fig.add_subplot()
    drawn = False
    for i, (split, (probs, gold)) in enumerate(scored.items()):
        gold = np.asarray(gold, dtype=bool)
        if gold.size == 0:
            continue
        f1 = [_micro_f1(probs >= t, gold) for t in cuts]
        ax.plot(cuts, f1, color=f"C{i}", linewidth=1.6, label=split)
        drawn = True
    if not drawn:
        return None
    ax.axvline(0.5, color="grey", linestyle=":", linewidth=1, label="0.5")
    if chosen is not None:
        ax.axvline(chosen, color="C3", linestyle="--", linewidth=1, label=f"tuned {chosen:.2f}")
    ax.set_xlabel("one threshold for every label")
    ax.set_ylabel("micro-F1")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def _micro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = float((pred & gold).sum())
    denominator = float(pred.sum() + gold.sum())
    return 2 * tp / denominator if denominator else 0.0


# ---- errors ---------------------------------------------------------------------------------------------
def co_confusion_matrix(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Multi-label co-confusion counts: [g, p] = documents with gold label g that were given label p wrongly
    (p not gold), i.e. "documents about g also got p"; the diagonal is 0 (a label cannot be wrong for itself)."""
    gold, pred = np.asarray(gold, dtype=bool), np.asarray(pred, dtype=bool)
    wrong = (pred & ~gold).astype(np.int64)
    return gold.astype(np.int64).T @ wrong


def co_confusion_heatmap(gold: np.ndarray, pred: np.ndarray, labels: Sequence[str],
                         max_labels: int = MAX_HEATMAP_LABELS) -> bytes | None:
    matrix = co_confusion_matrix(gold, pred)
    involvement = matrix.sum(axis=0) + matrix.sum(axis=1)
    keep = [j for j in np.argsort(-involvement, kind="stable")[:max_labels] if involvement[j] > 0]
    if not keep:
        return None
    keep = sorted(keep, key=lambda j: -np.asarray(gold, dtype=bool)[:, j].sum())
    sub = matrix[np.ix_(keep, keep)]
    names = [labels[j] for j in keep]
    n = len(keep)
    margin = CHAR_INCHES * max(map(len, names)) + 0.45
    cells = max(2.0, 0.32 * n)
    fig = _figure(cells + margin + 1.4, cells + margin + 0.4, left=margin, bottom=margin, right=1.4, top=0.2)
    ax = fig.add_subplot()
    shown = np.log1p(sub).astype(float)
    np.fill_diagonal(shown, np.nan)    # drawn grey: not a confusion
    from matplotlib import colormaps
    cmap = colormaps["Reds"].with_extremes(bad="#d0d7de")
    top = max(float(np.nanmax(shown)) if n > 1 else 1.0, 1.0)
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=top)
    bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
    bar.set_label("documents (log scale)")
    ticks = [t for t in bar.get_ticks() if 0 <= t <= top]
    bar.set_ticks(ticks, labels=[f"{np.expm1(t):.0f}" for t in ticks])
    ax.set_xticks(range(n), names, rotation=90, fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("label also predicted, wrongly")
    ax.set_ylabel("gold label")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if sub[i, j]:
                    ax.text(j, i, str(sub[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if np.log1p(sub[i, j]) > 0.6 * np.log1p(sub.max()) else "black")
    return _png(fig)


def _num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
