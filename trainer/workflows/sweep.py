"""`trainer sweep CONFIG --grid key=v1,v2 ...`: train every combination of the grid, one run
directory each, sequentially; a failed run is recorded with its error and the others go on."""
from __future__ import annotations

import itertools
import json
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import yaml

from trainer.errors import ConfigError, TrainerError


@dataclass
class SweepRun:
    name: str
    overrides: list[str]                   # the grid's key=value for this run
    run_dir: Path | None = None            # set when training finished
    error: str | None = None               # set when it failed
    traceback: str | None = None           # for unexpected (non-user) errors


@dataclass
class SweepResult:
    runs: list[SweepRun] = field(default_factory=list)

    @property
    def completed(self) -> list[SweepRun]:
        return [r for r in self.runs if r.error is None and r.run_dir is not None]

    @property
    def failed(self) -> list[SweepRun]:
        return [r for r in self.runs if r.error is not None]


def parse_grid(items: Sequence[str]) -> dict[str, list]:
    """`key=v1,v2` -> {key: [v1, v2]}; values are YAML (`1e-4`, `true`, `[a, b]` for a list value)."""
    grid: dict[str, list] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            raise ConfigError(f"--grid {item!r}: expected key=v1,v2 (e.g. model.tfidf.C=0.1,1,10)")
        try:
            values = yaml.safe_load(f"[{raw}]")
        except yaml.YAMLError as exc:
            raise ConfigError(f"--grid {item!r}: cannot parse the values ({exc.problem})") from None
        if key in grid:
            raise ConfigError(f"--grid {item!r}: {key} is given twice; list all its values in one --grid")
        grid[key] = values
    return grid


def grid_point_name(stem: str, assignment: dict[str, object]) -> str:
    """Config stem + the grid values, e.g. `reuters-topics-tfidf_C-0.1_ngram_max-2`; the last key
    part names a value unless two grid keys share it."""
    leaves = [k.rsplit(".", 1)[-1] for k in assignment]
    parts = []
    for (key, value), leaf in zip(assignment.items(), leaves):
        label = leaf if leaves.count(leaf) == 1 else key
        parts.append(f"{label}-{_slug(value)}")
    return "_".join([stem, *parts])


def _slug(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ""))
    return re.sub(r"[^A-Za-z0-9._+-]+", "", text.replace(",", "+")) or "x"


def sweep(config: str | Path, grid: dict[str, list], overrides: Sequence[str] = (),
          train_fn: Callable | None = None, on_event: Callable[[str], None] | None = None) -> SweepResult:
    """Train each combination of `grid` (after `overrides`) as its own run; never stop at a failure.

    `train_fn(cfg, config_path) -> run_dir` defaults to `trainer.workflows.train.train`.
    """
    from trainer.config import RunConfig, load_config, load_yaml_tree
    if not grid:
        raise ConfigError("sweep: give at least one --grid key=v1,v2")
    tree = load_yaml_tree(config, RunConfig)   # relative paths taken from the config's base folder
    quiet = lambda event: None  # noqa: E731 - these checks' notices come again with each run that has them
    load_config(config, RunConfig, overrides, tree=tree, progress=quiet)   # a typo in the base config fails once
    for key in grid:
        load_config(config, RunConfig, [*overrides, f"{key}={json.dumps(grid[key][0])}"], tree=tree, progress=quiet)
    if train_fn is None:
        from trainer.workflows.train import train as train_fn
    say = on_event or (lambda msg: None)
    result = SweepResult()
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    names = [grid_point_name(Path(config).stem, assignment) for assignment in combos]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:   # two combinations in one run directory: the second would replace the first
        raise ConfigError(f"sweep: grid values that differ only in punctuation give the same run name "
                          f"({', '.join(clashes)}); make them differ in letters or digits")
    for n, (assignment, name) in enumerate(zip(combos, names), 1):
        grid_overrides = [f"{k}={json.dumps(v)}" for k, v in assignment.items()]
        run = SweepRun(name=name, overrides=grid_overrides)
        result.runs.append(run)
        say(f"[{n}/{len(combos)}] {name}: {' '.join(grid_overrides)}")
        try:
            cfg = load_config(config, RunConfig, [*overrides, *grid_overrides, f"output.name={json.dumps(name)}"],
                              tree=tree, progress=lambda event: say(event["message"]))   # notices only
            run.run_dir = Path(train_fn(cfg, config))
        except KeyboardInterrupt:
            run.error = "interrupted"
            raise
        except TrainerError as exc:
            run.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one broken run must not stop the sweep; its error is reported
            run.error = f"{type(exc).__name__}: {exc}"
            run.traceback = traceback.format_exc()
        say(f"[{n}/{len(combos)}] {name}: " + (f"FAILED: {run.error}" if run.error else f"done -> {run.run_dir}"))
    return result
