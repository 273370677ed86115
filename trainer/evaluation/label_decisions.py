"""Which labels a target lost before its model saw them, and why: the dataset build's rules (manifest.json
labels_dropped) and the run's own (task.min_label_count, meta.json dataset.labels_dropped), for report.md."""
from __future__ import annotations

from pathlib import Path

from trainer import contracts
from trainer.data.label_space import dropped_lines
from trainer.errors import TrainerError


def label_decision_lines(run_dir: str | Path, dataset_dir: str | Path, target: str) -> list[str]:
    """One line per rule that dropped labels of `target`, each naming where (build or training) and the labels."""
    lines = []
    try:
        build = (contracts.read_manifest(dataset_dir).get("labels_dropped") or {}).get(target) or []
    except TrainerError:   # the evaluation reports the unreadable dataset itself; this is an extra
        build = []
    records = [r for r in build if isinstance(r, dict)]
    names = [r for r in build if isinstance(r, str)]   # datasets built before the reasons were recorded
    lines += [f"dataset build (`trainer data build`): {line}" for line in dropped_lines(target, records)]
    if names:
        lines.append(f"dataset build (`trainer data build`): {target}: dropped {', '.join(names)} "
                     "(this dataset's manifest.json names no reason; rebuild it to see the rule)")
    trained = ((contracts.read_meta(run_dir).get("dataset") or {}).get("labels_dropped") or {}).get(target) or []
    lines += [f"training (`trainer train`): {line}" for line in dropped_lines(target, trained)]
    return lines
