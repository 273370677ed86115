"""Render a `Comparison`: terminal table (rich), Markdown, CSV, self-contained HTML, PNG plot."""
from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any, Callable

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


def _cells(comp: Comparison) -> tuple[list[str], list[list[str]]]:
    cols = display_columns(comp)
    return [h for h, _ in cols], [[fmt(row) for _, fmt in cols] for row in comp.rows]


def _footnotes(comp: Comparison) -> list[str]:
    notes = list(comp.notes)
    notes.append(f"sorted by test {comp.metric}, best first")
    if comp.baseline:
        notes.append(f"{NOT_SIGNIFICANT} = not significant: the 95% interval of the delta contains 0")
    return notes


def to_markdown(comp: Comparison) -> str:
    headers, rows = _cells(comp)
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(lines + [""] + [f"- {n}" for n in _footnotes(comp)]) + "\n"


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


def to_rich_table(comp: Comparison):
    from rich.table import Table
    headers, rows = _cells(comp)
    table = Table(title=f"runs by test {comp.metric}", caption="\n".join(_footnotes(comp)), caption_justify="left")
    for h in headers:
        text = h == "run" or h in comp.config_keys
        table.add_column(h, overflow="fold", no_wrap=not text, justify="left" if text else "right")
    for row, cells in zip(comp.rows, rows):
        style = "dim" if row.get("significant") == "no" else ("bold" if row.get("significant") == "baseline" else None)
        table.add_row(*cells, style=style)
    return table


def print_table(comp: Comparison, file=None) -> None:
    """Print the rich table; when not writing to a terminal, as wide as the table needs (no folding)."""
    from rich.console import Console
    table = to_rich_table(comp)
    console = Console(file=file)
    if not console.is_terminal:
        natural = Console(file=io.StringIO(), width=1000).measure(table).maximum
        console = Console(file=file, width=max(80, natural))
    console.print(table)


def to_html(comp: Comparison, with_plot: bool = True) -> str:
    """One HTML file with inline CSS and the plot embedded as a data: URI (no external resources)."""
    headers, rows = _cells(comp)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr class=\"{html.escape(str(row.get('significant') or ''))}\">"
        + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        for row, cells in zip(comp.rows, rows))
    img = ""
    if with_plot:
        png = base64.b64encode(plot_png_bytes(comp)).decode("ascii")
        img = f'<img alt="{html.escape(comp.metric)} per run" src="data:image/png;base64,{png}">'
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in _footnotes(comp))
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


def plot_png_bytes(comp: Comparison) -> bytes:
    """The metric of each run with its 95% interval; with a baseline, a second panel of deltas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    m = comp.metric
    names = [str(r["run"]) for r in comp.rows][::-1]          # best at the top
    rows = comp.rows[::-1]
    panels = 2 if comp.baseline else 1
    label_inches = 0.08 * max(len(n) for n in names)      # room for the run names on the left
    fig = Figure(figsize=(label_inches + 4.5 * panels, 0.5 * len(rows) + 1.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, panels, 1)
    _errorbars(ax, names, [r.get(m) for r in rows], [r.get(f"{m}_low") for r in rows],
               [r.get(f"{m}_high") for r in rows])
    ax.set_xlabel(f"test {m}" + (" (95% bootstrap CI)" if comp.n_resamples else ""))
    if comp.baseline:
        ax2 = fig.add_subplot(1, panels, 2, sharey=ax)
        _errorbars(ax2, names, [r.get(f"delta_{m}") for r in rows], [r.get("delta_low") for r in rows],
                   [r.get("delta_high") for r in rows])
        ax2.axvline(0.0, color="grey", linewidth=1, linestyle="--")
        ax2.tick_params(labelleft=False)   # the run names are on the first panel
        ax2.set_xlabel(f"Δ {m} vs baseline (paired 95% CI)")
        ax2.set_title(f"baseline: {comp.baseline}", fontsize="small")
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
    ax.set_yticks(list(ys), names)
    ax.grid(axis="x", alpha=0.3)


def write_plot(comp: Comparison, path: str | Path) -> Path:
    return atomic_write_bytes(path, plot_png_bytes(comp))


def render(comp: Comparison, fmt: str) -> str:
    """Text for `md`, `csv` or `html` (`table` is printed by rich in the CLI)."""
    return {"md": to_markdown, "csv": to_csv, "html": to_html}[fmt](comp)
