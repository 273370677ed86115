"""Render a `Comparison` as Markdown, CSV, self-contained HTML or a PNG plot (the terminal table:
trainer.console.compare_table)."""
from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any, Callable

from trainer import metric_names
from trainer.atomic import atomic_write_bytes
from trainer.compare import METRIC_COLUMNS, Comparison

FORMATS = ("table", "md", "csv", "html")
NOT_SIGNIFICANT = "n.s."   # the delta's 95% interval contains 0


def _num(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _human(value: Any, units: tuple[str, ...], step: float) -> str:
    if not isinstance(value, (int, float)):
        return ""
    for unit in units:
        if abs(value) < step or unit == units[-1]:
            return f"{value:.3g}{unit}" if unit else f"{value:.0f}"
        value /= step
    return ""


def _config_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, dict, bool)):
        return json.dumps(value)
    return str(value)


def display_columns(comp: Comparison) -> list[tuple[str, Callable[[dict], str]]]:
    """(header, cell formatter) for the human-readable formats."""
    m = comp.metric
    cols: list[tuple[str, Callable[[dict], str]]] = [("run", lambda r: str(r["run"]))]
    cols += [(k, lambda r, k=k: _config_value(r.get(k))) for k in comp.config_keys]
    cols += [(k, lambda r, k=k: _num(r.get(k), ".4f")) for k in METRIC_COLUMNS]
    if comp.n_resamples:
        cols.append((f"{m} 95% CI", lambda r: f"[{r[m + '_low']:.4f}, {r[m + '_high']:.4f}]"
                     if f"{m}_low" in r else ""))
    if comp.baseline:
        cols.append((f"Δ {m} vs {comp.baseline} (95% CI)", _delta_cell(m)))
    from trainer.compare.by_bucket import bucket_cell
    cols += [(f"macro_f1 {b} train docs" + (" (Δ, 95% CI)" if comp.baseline and comp.n_resamples else ""),
              bucket_cell(b)) for b in comp.buckets]
    cols += [("train s", lambda r: _num(r.get("train_seconds"), ".1f")),
             ("train ex/s", lambda r: _num(r.get("train_examples_per_s"), ".1f")),
             ("params", lambda r: _human(r.get("parameters"), ("", "K", "M", "G"), 1000.0)),
             ("model size", lambda r: _human(r.get("model_bytes"), ("B", "KB", "MB", "GB"), 1024.0)),
             ("predict docs/s", lambda r: _num(r.get("predict_docs_per_s"), ".1f"))]
    return cols


def _delta_cell(metric: str) -> Callable[[dict], str]:
    def cell(row: dict) -> str:
        if row.get("significant") == "baseline":
            return "baseline"
        if row.get(f"delta_{metric}") is None:
            return ""
        text = f"{row[f'delta_{metric}']:+.4f} [{row['delta_low']:+.4f}, {row['delta_high']:+.4f}]"
        return text if row["significant"] == "yes" else f"{text} {NOT_SIGNIFICANT}"
    return cell


def table_cells(comp: Comparison) -> tuple[list[str], list[list[str]]]:
    cols = display_columns(comp)
    return [h for h, _ in cols], [[fmt(row) for _, fmt in cols] for row in comp.rows]


def footnotes(comp: Comparison) -> list[str]:
    notes = list(comp.notes)
    notes.append(f"sorted by test {comp.metric}, best first")
    if comp.baseline:
        notes.append(f"{NOT_SIGNIFICANT} = not significant: the 95% interval of the delta contains 0")
    return notes


def to_markdown(comp: Comparison) -> str:
    headers, rows = table_cells(comp)
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(lines + [""] + [f"- {n}" for n in footnotes(comp)]) + "\n"


def to_csv(comp: Comparison) -> str:
    """Raw values, one column per field (intervals as _low/_high), for spreadsheets and scripts."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(comp.columns)
    for row in comp.rows:
        writer.writerow(["" if row.get(c) is None else _csv_value(row.get(c)) for c in comp.columns])
    return buf.getvalue()


def _csv_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def short_keys(keys: list[str]) -> dict[str, str]:
    """Dotted config keys -> the shortest unique tail (`model.tfidf.C` -> `C`)."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if sum(k == tail or k.endswith("." + tail) for k in keys) == 1:
                out[key] = tail
                break
        else:
            out[key] = key
    return out


def to_html(comp: Comparison, with_plot: bool = True) -> str:
    """One HTML file with inline CSS and the plot embedded as a data: URI (no external resources)."""
    headers, rows = table_cells(comp)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr class=\"{html.escape(str(row.get('significant') or ''))}\">"
        + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        for row, cells in zip(comp.rows, rows))
    img = ""
    if with_plot:
        png = base64.b64encode(plot_png_bytes(comp)).decode("ascii")
        img = f'<img alt="{html.escape(comp.metric)} per run" src="data:image/png;base64,{png}">'
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in footnotes(comp))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>trainer compare: {html.escape(comp.metric)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
th {{ background: #f2f2f2; }} td:first-child {{ text-align: left; font-weight: 600; }}
tr.no td {{ color: #888; }} tr.baseline td {{ background: #fff8e1; }}
img {{ max-width: 100%; margin-top: 1.5em; }}
</style></head><body>
<h1>Runs by test {html.escape(comp.metric)}</h1>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<ul>{notes}</ul>
{img}
</body></html>
"""


def plot_metrics(comp: Comparison, metrics: list[str] | None = None) -> list[str]:
    """The metrics a plot shows: as asked, else the comparison's metric and the other F1."""
    if metrics:
        return list(dict.fromkeys(metrics))
    return [comp.metric] + [m for m in metric_names.ESSENTIAL if m != comp.metric]


def run_labels(comp: Comparison) -> list[str]:
    """Each run's name with the settings that differ between the runs (`C=0.3, classifier=logreg`)."""
    names = short_keys(comp.config_keys)
    labels = []
    for row in comp.rows:
        settings = ", ".join(f"{names[k]}={_config_value(row.get(k))}" for k in comp.config_keys)
        labels.append(f"{row['run']}\n{settings}" if settings else str(row["run"]))
    return labels


def plot_png_bytes(comp: Comparison, metrics: list[str] | None = None) -> bytes:
    """Each metric of each run with its 95% interval (one panel per metric); with a baseline, a second row of
    panels with the paired deltas. The run labels carry the settings that differ; the title names them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    metrics = plot_metrics(comp, metrics)
    labels = run_labels(comp)[::-1]          # best at the top
    rows = comp.rows[::-1]
    n_rows = 2 if comp.baseline else 1
    label_inches = 0.075 * max(len(line) for label in labels for line in label.split("\n"))
    lines_per_run = max(label.count("\n") + 1 for label in labels)
    height = (0.3 * lines_per_run + 0.2) * len(rows) + 1.0
    fig = Figure(figsize=(label_inches + 3.4 * len(metrics), n_rows * height + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, len(metrics), squeeze=False, sharey=True)
    for j, m in enumerate(metrics):
        ax = axes[0][j]
        bounds = [(r.get("intervals") or {}).get(m, (None, None)) for r in rows]
        _errorbars(ax, labels, [r.get(m) for r in rows], [b[0] for b in bounds], [b[1] for b in bounds])
        ax.set_xlabel(f"test {m}" + (" (95% bootstrap CI)" if comp.n_resamples else ""))
        if comp.baseline:
            ax = axes[1][j]
            deltas = [(r.get("deltas") or {}).get(m, (None, None, None)) for r in rows]
            _errorbars(ax, labels, [d[0] for d in deltas], [d[1] for d in deltas], [d[2] for d in deltas])
            ax.axvline(0.0, color="grey", linewidth=1, linestyle="--")
            ax.set_xlabel(f"Δ {m} vs baseline (paired 95% CI)")
    for row_axes in axes:
        for ax in row_axes[1:]:
            ax.tick_params(labelleft=False)   # the run labels are on the first panel of each row
    differ = ", ".join(comp.config_keys) if comp.config_keys else "no setting (same config)"
    title = f"runs differ in: {differ}"
    if comp.baseline:
        title += f"\nbaseline: {comp.baseline}"
    fig.suptitle(title, fontsize="medium")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return buf.getvalue()


def _errorbars(ax, names, values, lows, highs) -> None:
    ys = range(len(names))
    for y, v, lo, hi in zip(ys, values, lows, highs):
        if v is None:
            continue
        # clamped: metrics.json's value can sit outside an interval recomputed from predictions.jsonl
        err = [[max(0.0, v - lo)], [max(0.0, hi - v)]] if lo is not None and hi is not None else None
        ax.errorbar([v], [y], xerr=err, fmt="o", color="C0", capsize=4)
    from matplotlib.ticker import MaxNLocator
    ax.set_yticks(list(ys), names, fontsize="small")
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.grid(axis="x", alpha=0.3)


def write_plot(comp: Comparison, path: str | Path, metrics: list[str] | None = None) -> Path:
    return atomic_write_bytes(path, plot_png_bytes(comp, metrics))


def render(comp: Comparison, fmt: str) -> str:
    """Text for `md`, `csv` or `html` (`table` is printed by trainer.console.compare_table)."""
    return {"md": to_markdown, "csv": to_csv, "html": to_html}[fmt](comp)
