"""`trainer compare` (and the end of `trainer sweep`) at a terminal: the comparison as a rich table fitted to
the terminal's width. The comparison itself and its other formats live in trainer.compare."""
from __future__ import annotations

import io

from trainer import metric_names
from trainer.compare import Comparison
from trainer.compare.render import NOT_SIGNIFICANT, footnotes, short_keys, table_cells

# the terminal table's short headers (md, csv and html keep the full names)
SHORT_HEADERS = {**{key: metric_names.name(key) for key in metric_names.HEADLINE}, "train s": "train s",
                 "train ex/s": "ex/s", "params": "params", "model size": "size", "predict docs/s": "docs/s"}
# the narrowest tables: the metric headers shorter still
TINY_HEADERS = {metric_names.name(k): metric_names.short_name(k) for k in metric_names.HEADLINE}
# dropped first, from the right, when the table does not fit the terminal
OPTIONAL_COLUMNS = ("predict docs/s", "model size", "params", "train ex/s", "train s")
MAX_NAME_WIDTH = 48    # run names and setting values longer than this wrap; shorter ones are never squeezed
MIN_NAME_WIDTH = 10    # ... unless the terminal is too narrow for the metrics otherwise: then they wrap at this



COST_HEADERS = ("train s", "train ex/s", "params", "model size", "predict docs/s")   # display_columns' last ones


def _bucket_lines(cell: str, compact: bool, tiny: bool) -> str:
    """A bucket cell `0.41 (-0.05 [-0.09, -0.01] n.s.)` on two lines when `compact` (the delta below the value),
    without the interval when `tiny` (its significance mark kept)."""
    value, sep, delta = cell.partition(" (")
    if not compact or not sep:
        return cell
    delta = delta.rstrip(")")
    if tiny:
        point, _, rest = delta.partition(" [")
        delta = point + (f" {NOT_SIGNIFICANT}" if rest.endswith(NOT_SIGNIFICANT) else "")
    return f"{value}\n{delta}"


def to_rich_table(comp: Comparison, width: int | None = None):
    """The terminal table. With `width` (a terminal), it is fitted without squeezing any run name or setting to
    nothing: first the delta cell takes two lines, then cost columns and the interval column are left out
    (named in the caption), then metric headers are abbreviated, and only then do long names wrap."""
    from rich.table import Table

    headers, rows = table_cells(comp)
    names = short_keys(comp.config_keys)
    delta_header = f"Δ {comp.metric} vs {comp.baseline} (95% CI)" if comp.baseline else None
    ci_header = f"{comp.metric} 95% CI"
    text_columns = {"run", *comp.config_keys}
    bucket_headers = dict(zip(headers[len(headers) - len(comp.buckets) - len(COST_HEADERS):], comp.buckets))

    def layout(compact: bool, dropped: tuple[str, ...], tiny: bool, cap: int) -> tuple[list, int]:
        cols = []
        for i, h in enumerate(headers):
            if h in dropped:
                continue
            cells = [r[i] for r in rows]
            if compact and h == delta_header:
                cells = [f"{c.partition(' [')[0]}\n[{c.partition(' [')[2]}" if " [" in c else c for c in cells]
            if h in bucket_headers:
                cells = [_bucket_lines(c, compact, tiny) for c in cells]
                label = f"{'F1' if tiny else 'macro-F1'} {bucket_headers[h]}" if compact else h
                cols.append((h, label, cells, max([len(label), *(len(x) for c in cells for x in c.split("\n"))])))
                continue
            if h in text_columns:
                label = names.get(h, h)
                need = min(max([len(label), *(len(c) for c in cells)]), cap)
            else:
                metric = SHORT_HEADERS.get(comp.metric, comp.metric)
                label = (f"Δ {metric} [95% CI]" if h == delta_header else f"{metric} 95% CI" if h == ci_header
                         else SHORT_HEADERS.get(h, h))
                if tiny:
                    label = TINY_HEADERS.get(label, label)
                    label = label.replace(" 95% CI", " CI").replace(" [95% CI]", "")
                need = max([len(label), *(len(line) for c in cells for line in c.split("\n"))])
            cols.append((h, label, cells, need))
        return cols, sum(need + 3 for *_, need in cols) + 1

    def choose():
        if width is None:
            return layout(False, (), False, 10_000)[0]
        optional = [h for h in OPTIONAL_COLUMNS if h in headers]
        steps = [(False, (), False, MAX_NAME_WIDTH), (True, (), False, MAX_NAME_WIDTH)]
        steps += [(True, tuple(optional[:n]), False, MAX_NAME_WIDTH) for n in range(1, len(optional) + 1)]
        everything = (*optional, ci_header)
        steps += [(True, everything, False, MAX_NAME_WIDTH), (True, everything, True, MAX_NAME_WIDTH)]
        droppable = tuple(m for m in metric_names.HEADLINE if m != comp.metric and m not in metric_names.ESSENTIAL)
        if droppable:
            everything = (*everything, *droppable)
            steps.append((True, everything, True, MAX_NAME_WIDTH))
        # the label-frequency buckets go last, before any name or setting wraps
        steps.append((True, (*everything, *bucket_headers), True, MAX_NAME_WIDTH))
        for step in steps:
            cols, total = layout(*step)
            if total <= width:
                return cols
        # still too wide: the widest names wrap, one character at a time, down to MIN_NAME_WIDTH
        cols = [list(c) for c in cols]
        while total > width:
            widest = max((c for c in cols if c[0] in text_columns), key=lambda c: c[3], default=None)
            if widest is None or widest[3] <= MIN_NAME_WIDTH:
                break
            widest[3] -= 1
            total -= 1
        return [tuple(c) for c in cols]

    cols = choose()
    kept = {h for h, *_ in cols}
    notes = footnotes(comp)
    if any(names[k] != k for k in comp.config_keys):
        notes.append("settings: " + "; ".join(f"{names[k]} = {k}" for k in comp.config_keys if names[k] != k))
    shown_buckets = [label for h, label, *_ in cols if h in bucket_headers and label != h]
    if shown_buckets and comp.baseline and comp.n_resamples:   # bucket cells on two lines
        notes.append(f"{shown_buckets[0].rsplit(' ', 1)[0]} B: the bucket's macro-F1, below it the delta vs the "
                     "baseline" + ("" if shown_buckets[0].startswith("macro-F1") else
                                   " (its interval left out at this width)"))
    left_out = [h for h in headers if h not in kept]
    if left_out:
        notes.append(f"left out at this width: {', '.join(left_out)} (--format md or csv shows every column)")
    title = f"runs by test {comp.metric}" + (f", baseline {comp.baseline}" if comp.baseline else "")
    table = Table(title=title, caption="\n".join(notes), caption_justify="left")
    for h, label, _, need in cols:
        text = h in text_columns
        table.add_column(label, justify="left" if text else "right", overflow="fold",
                         width=need if width is not None else None, no_wrap=not text and h != delta_header)
    for n, row in enumerate(comp.rows):
        style = ("dim" if row.get("significant") == "no" else
                 "bold" if row.get("significant") == "baseline" else None)
        table.add_row(*(cells[n] for _, _, cells, _ in cols), style=style)
    return table


def print_table(comp: Comparison, file=None) -> None:
    """Print the rich table: at a terminal fitted to its width (names never squeezed); otherwise as wide as
    the table needs (no folding)."""
    from rich.console import Console
    console = Console(file=file)
    if not console.is_terminal:
        table = to_rich_table(comp)
        natural = Console(file=io.StringIO(), width=1000).measure(table).maximum
        console = Console(file=file, width=max(80, natural))
        console.print(table)
        return
    console.print(to_rich_table(comp, width=console.width))
