"""`trainer predict` at a terminal: one table row per text, with per target its labels and its best scores as
bars. Pipes and files get JSON lines instead (every score, machine-readable)."""
from __future__ import annotations

from typing import Sequence

TOP_SCORES = 5
BAR = 12            # characters of a score bar at 1.0
SNIPPET = 200       # characters of a text shown in the input column (wrapped in the cell)
GAZETTEER_ONLY = "(gazetteer only)"   # marks a label the head never learned, answered from place names alone


def snippet(text: str, width: int = SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def predict_table(records: Sequence[dict], targets: Sequence[tuple[str, int]], inputs: Sequence[str],
                     top: int = TOP_SCORES):
    """A rich Table: `records` as predict_inputs returns them, `targets` (name, number of labels) of the model,
    `inputs` the text shown for each record (a snippet, a path and title, an id)."""
    from rich.table import Table
    from rich.text import Text

    several = len(targets) > 1
    gazetteer = any((r.get(name, {}) if several else r).get("gazetteer_only") for r in records for name, _ in targets)
    caption = _caption(targets, top) + (f"; {GAZETTEER_ONLY}: a label the model's head never learned, answered "
                                        "from the place names in the text" if gazetteer else "")
    table = Table(show_lines=True, caption=caption, caption_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("input", overflow="fold", ratio=2, min_width=20)
    for name, _ in targets:
        table.add_column(f"{name} labels" if several else "labels", style="bold green", overflow="fold", min_width=10)
        table.add_column(f"{name} top scores" if several else "top scores", no_wrap=True)
    for n, (record, shown) in enumerate(zip(records, inputs), 1):
        if "error" in record:
            table.add_row(str(n), shown, Text(f"not read: {record['error']}", style="red"),
                          *([""] * (2 * len(targets) - 1)))
            continue
        cells = []
        for name, _ in targets:
            answer = record.get(name, {}) if several else record
            labels = answer.get("labels", [])
            only = set(answer.get("gazetteer_only", []))
            cells.append(", ".join(f"{label} {GAZETTEER_ONLY}" if label in only else label for label in labels)
                         if labels else Text("(none)", style="dim"))
            cells.append(_scores(answer.get("scores", {}), set(labels), top))
        table.add_row(str(n), shown, *cells)
    return table


def _scores(scores: dict[str, float], chosen: set[str], top: int):
    from rich.text import Text
    best = sorted(scores.items(), key=lambda item: -item[1])[:top]
    width = max((len(label) for label, _ in best), default=0)
    text = Text()
    for i, (label, score) in enumerate(best):
        if i:
            text.append("\n")
        filled = int(round(max(0.0, min(1.0, score)) * BAR))
        text.append(f"{label:<{width}} ", style="bold" if label in chosen else "")
        text.append("█" * filled, style="green" if label in chosen else "blue")
        text.append("·" * (BAR - filled), style="dim")
        text.append(f" {score:.3f}")
    return text


def _caption(targets: Sequence[tuple[str, int]], top: int) -> str:
    sizes = ", ".join(f"{name}: {n}" for name, n in targets) if len(targets) > 1 else f"{targets[0][1]}"
    return (f"top {top} scores shown (labels: {sizes}); bold = predicted. "
            "--format jsonl (or a pipe) prints every score as JSON lines")
