"""The table `trainer train` ends with when the config asks for it (output.predict, output.predict_examples):
each article's title, then per target its top labels with scores and the decision; a target answered by the
head and the gazetteer together shows the head, the gazetteer and the combined answer on three lines."""
from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

TOP = 3
WIDTH = 100


@dataclass
class Item:
    heading: str                  # where it comes from: a file, or a dataset document
    title: str
    text: str | None              # None: read `path` through the article readers
    path: str | None = None
    gold: dict | None = None      # target -> gold labels (dataset documents)
    tags: list[str] | None = None  # the page's tags (files read by the article readers): the gazetteer reads them


def example_items(paths: list[str], run_dir: Path, examples: int) -> tuple[list[Item], list[str]]:
    """The files of output.predict and the first `examples` test documents of the run's dataset."""
    notes = [f"sample not found, skipped: {p}" for p in paths if not _expand(p)]
    items = [Item(f"sample {f}", "", None, path=f) for p in paths for f in _expand(p)]
    if examples:
        items += _dataset_examples(run_dir, examples)
    return items, notes


def example_lines(predictor, items: list[Item]) -> list[str]:
    from trainer.data.article import Rejected
    from trainer.serving.inputs import read_raw
    lines = []
    for item in items:
        if item.text is None:
            read = [a for a in read_raw(item.path)]
            if not read or isinstance(read[0], Rejected):
                lines.append(f"{item.heading}: not read ({read[0].reason if read else 'empty'})")
                continue
            item.title, item.text, item.tags = read[0].title, read[0].text, list(read[0].tags or [])
        per_target = predictor.predict([item.text], top_k=TOP, explain=True, tags=[item.tags])[0]
        lines.append(item.heading)
        lines.append("  " + textwrap.shorten(f'"{item.title}"', WIDTH - 2) if item.title else "  (no title)")
        for target in predictor.targets:
            result = per_target[target.name]
            gold = f"   gold: {', '.join(item.gold[target.name]) or '-'}" if item.gold and target.name in item.gold else ""
            parts = result.get("parts")
            if parts:
                lines.append(_row(f"{target.name} (head)", parts["head"]))
                lines.append(_row(f"{'':{len(target.name)}} (gazetteer)", parts["gazetteer"]))
                lines.append(_row(f"{'':{len(target.name)}} (combined)", result) + gold)
            else:
                lines.append(_row(target.name, result) + gold)
    return lines


def _row(name: str, result: dict) -> str:
    scores = "  ".join(f"{label} {score:.2f}" for label, score in result.get("scores", {}).items())
    only = set(result.get("gazetteer_only", []))   # labels the head never learned, from place names alone
    chosen = ", ".join(f"{label} (gazetteer only)" if label in only else label
                       for label in result.get("labels", [])) or "(none)"
    return f"  {name:<24} {scores:<62} -> {chosen}"


def _dataset_examples(run_dir: Path, n: int) -> list[Item]:
    """The first `n` test documents that carry a label for every target of the run's model."""
    from trainer import contracts
    from trainer.data.dataset_io import dataset_path, load_dataset_dir
    spec = contracts.read_spec(contracts.model_dir_of(run_dir))
    dsd, _ = load_dataset_dir(dataset_path(contracts.read_run_config(run_dir).data))
    test = dsd["test"]
    out = []
    for row in test:
        gold = {t.name: row[t.name] if t.multi_label else [row[t.name]] for t in spec.targets if t.name in row}
        if all(gold.get(t.name) for t in spec.targets):
            out.append(Item(f"test story {row['id']} of {Path(str(dataset_path(contracts.read_run_config(run_dir).data))).name}",
                            row["title"], row["text"], gold=gold))
        if len(out) == n:
            break
    return out


def _expand(pattern: str) -> list[str]:
    path = Path(os.path.expandvars(os.path.expanduser(pattern)))
    if path.is_dir():
        return [str(f) for f in sorted(path.iterdir()) if f.is_file() and not f.name.startswith(".")]
    return [str(path)] if path.is_file() else []
