"""A run directory as compare reads it: its resolved config, model spec, metrics, meta and per-document
predictions of the target compared."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer import contracts
from trainer.config import flatten
from trainer.errors import TrainerError

# where a prediction speed may be recorded (evaluation writes it into metrics.json test or meta.json)
_SPEED_KEYS = ("predict_docs_per_s", "docs_per_s", "predict_examples_per_s", "eval_samples_per_second")


class CompareError(TrainerError):
    """Runs that cannot be compared (missing files, different test sets)."""


@dataclass
class Run:
    path: Path
    name: str
    config: dict[str, Any]                 # flattened resolved config (schema defaults filled in)
    spec: contracts.ModelSpec | None       # model/trainer.json
    metrics: dict[str, dict]               # metrics.json: target -> split -> metrics
    meta: dict[str, Any]
    predictions: list[dict] | None         # predictions.jsonl rows (format 2), None when absent
    target: str | None = None              # the target this comparison looks at

    @property
    def test_metrics(self) -> dict[str, Any]:
        return (self.metrics.get(self.target) or {}).get("test") or {}

    @property
    def labels(self) -> list[str] | None:
        if self.spec is None or self.target not in self.spec.target_names:
            return None
        return list(self.spec.target(self.target).labels)

    def target_rows(self) -> list[dict] | None:
        """Per document with a gold label for the target: {"id", "gold", "predicted"}."""
        if self.predictions is None:
            return None
        return [{"id": p.get("id"), **p["targets"][self.target]} for p in self.predictions
                if self.target in p["targets"]]

    @property
    def model_bytes(self) -> int | None:
        model = self.path / "model"
        if not model.is_dir():
            return None
        return sum(p.stat().st_size for p in model.rglob("*") if p.is_file())

    @property
    def predict_docs_per_s(self) -> float | None:
        for source in (self.test_metrics, self.meta):
            for key in _SPEED_KEYS:
                if isinstance(source.get(key), (int, float)):
                    return float(source[key])
        return None


def load_run(run_dir: str | Path) -> Run:
    path = Path(run_dir)
    if not (path / contracts.CONFIG).is_file():
        raise CompareError(f"{path}: not a run directory (no {contracts.CONFIG}); give directories written by "
                           "`trainer train`")
    # validating fills keys an older or shorter config.yaml lacks with today's schema defaults
    cfg = contracts.read_run_config(path).model_dump(mode="json")
    model_dir = path / contracts.MODEL
    # the answer's labels (a target combined with the gazetteer: its gazetteer-only labels too), as predictions hold
    spec = contracts.answer_spec(contracts.read_spec(model_dir)) if (model_dir / contracts.SPEC).is_file() else None
    primary = spec.primary.name if spec else cfg["task"]["target"]
    return Run(path=path, name=path.name, config=flatten(cfg), spec=spec,
               metrics=contracts.read_metrics(path, primary), meta=contracts.read_meta(path),
               predictions=contracts.read_predictions(path, primary))


def as_list(value) -> list[str]:
    """Label lists as predictions.jsonl holds them; a bare string (single-label) becomes one label."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def labels_of(run: Run) -> list[str]:
    """The run's label space: model/trainer.json, else every label its predictions mention."""
    if run.labels:
        return list(run.labels)
    seen = {label for p in run.target_rows() for key in ("gold", "predicted") for label in as_list(p.get(key))}
    return sorted(seen)
