"""What a run fits on: its dataset (built on first use), limited for smoke tests, and a label space per target."""
from __future__ import annotations

from trainer.data.dataset_io import limit_splits, load_dataset_dir, resolve_dataset_dir
from trainer.data.identity import dataset_identity, fingerprints
from trainer.data.label_space import check_target, label_space
from trainer.models import FitData
from trainer.training import distributed


def load_fit_data(cfg, progress=None) -> FitData:
    """Dataset and label spaces of a run config; every input error is raised here, before the run starts.
    `progress` receives the dataset build's stage events when the dataset is built on first use."""
    with distributed.main_first():
        dataset_dir = resolve_dataset_dir(cfg.data, is_main=distributed.is_main(), progress=progress)
    dsd, manifest = load_dataset_dir(dataset_dir)
    if cfg.data.limit:
        dsd = limit_splits(dsd, cfg.data.limit)
    spaces = []
    for k, target in enumerate(cfg.task.resolved()):
        check_target(dsd, target.name, target.problem, dataset_dir,
                     key="task.targets" if cfg.task.several else "task.target")
        key = f"task.targets[{k}].min_label_count" if cfg.task.several else "task.min_label_count"
        spaces.append(label_space(dsd["train"], target.name, target.problem, target.min_label_count,
                                  skip_unlabelled=cfg.task.several, key=key))
    if progress is not None:
        for space in spaces:   # the label space, and every label task.min_label_count drops, said out loud
            progress({"stage": "labels", "done": True, "target": space.target, "problem": space.problem,
                      "labels": len(space.labels),
                      "labels_dropped": {space.target: space.dropped}})
    return FitData(dataset_dir, dsd, spaces, manifest)


def dataset_meta(data: FitData) -> dict:
    """meta.json's `dataset`: where it is, its split fingerprints, what the run used of it, and the identity of
    its splits (whole, also under data.limit: evaluate scores whole splits) that evaluate and compare check."""
    from pathlib import Path
    per_split, combined = fingerprints(data.splits)
    whole, _ = load_dataset_dir(data.dataset_dir)
    return {"path": str(Path(data.dataset_dir).resolve()), "fingerprints": per_split, "fingerprint": combined,
            "examples": {s: len(data.splits[s]) for s in data.splits},
            "labels": {space.target: len(space.labels) for space in data.spaces},
            "labels_dropped": {space.target: space.dropped for space in data.spaces},
            **dataset_identity(whole, data.manifest)}
