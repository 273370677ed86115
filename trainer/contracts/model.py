"""The model directory's own files: `trainer.json` (what the model predicts and how to load it) and
`thresholds.json` (the decision rule per multi-label target).

trainer.json, format 2:
    {"format": 2, "model_type": "transformer", "targets": [{"name": "topics", "problem": "multi_label",
     "labels": [...]}], ...settings of the model kind (max_length, truncation, pooling, ...)}
Format 1 (one target: "labels", "problem", "target" at the top level) is still read.

thresholds.json, format 2: {"format": 2, "targets": {"topics": {"kind", "values", "fallback", "at_least_one"}}};
format 1 (one target's Thresholds at the top level) is still read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.atomic import atomic_write_json
from trainer.contracts.files import FUSION, MODEL, REEVALUATE, RETRAIN, SPEC, THRESHOLDS, read_json
from trainer.decisions import DEFAULT_FUSION, THRESHOLD_KINDS, Thresholds
from trainer.errors import DataError

SPEC_FORMAT = 2
PROBLEMS = ("multi_label", "single_label")


@dataclass(frozen=True)
class Target:
    """One thing a model predicts: a dataset label column, its problem type and its label space.
    `skip_unlabelled`: a document without a label for it is left out of its loss and metrics (multi-task)."""
    name: str
    problem: str
    labels: tuple[str, ...]
    skip_unlabelled: bool = False

    @property
    def multi_label(self) -> bool:
        return self.problem == "multi_label"

    def has_label(self, gold) -> bool:
        """Whether a document's gold value counts for this target."""
        if not self.skip_unlabelled:
            return True
        return bool(gold) if self.multi_label else gold is not None and gold != ""

    def to_dict(self) -> dict:
        out = {"name": self.name, "problem": self.problem, "labels": list(self.labels)}
        if self.skip_unlabelled:
            out["skip_unlabelled"] = True
        return out


@dataclass
class ModelSpec:
    """trainer.json: the model kind, its targets, and the kind's own settings."""
    model_type: str
    targets: list[Target]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> Target:
        return self.targets[0]

    def target(self, name: str | None = None) -> Target:
        if name is None:
            return self.primary
        for t in self.targets:
            if t.name == name:
                return t
        raise DataError(f"the model has no target {name!r} (it predicts {', '.join(self.target_names)})")

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    def to_dict(self) -> dict:
        return {"format": SPEC_FORMAT, "model_type": self.model_type,
                "targets": [t.to_dict() for t in self.targets], **self.settings}


def write_spec(model_dir: str | Path, spec: ModelSpec) -> Path:
    return atomic_write_json(Path(model_dir) / SPEC, spec.to_dict())


def read_spec(model_dir: str | Path) -> ModelSpec:
    path = Path(model_dir) / SPEC
    if not path.is_file():
        raise DataError(f"{model_dir}: not a model directory (no {SPEC}); "
                        "give a run directory from `trainer train` (it holds model/)")
    raw = read_json(path, RETRAIN)
    try:
        if raw.get("format", 1) == 1:
            targets = [Target(str(raw["target"]), str(raw["problem"]), tuple(map(str, raw["labels"])))]
            settings = {k: v for k, v in raw.items() if k not in ("model_type", "target", "problem", "labels")}
        else:
            targets = [Target(str(t["name"]), str(t["problem"]), tuple(map(str, t["labels"])),
                              bool(t.get("skip_unlabelled", False))) for t in raw["targets"]]
            settings = {k: v for k, v in raw.items() if k not in ("format", "model_type", "targets")}
        model_type = str(raw["model_type"])
    except (KeyError, TypeError) as exc:
        raise DataError(f"{path}: missing or malformed field {exc}; {RETRAIN}") from None
    bad = [t.name for t in targets if t.problem not in PROBLEMS or not t.labels]
    if not targets or bad:
        raise DataError(f"{path}: target(s) {', '.join(bad) or '(none)'} without labels or a known problem type; "
                        f"{RETRAIN}")
    return ModelSpec(model_type, targets, settings)


def model_dir_of(run_or_model_dir: str | Path) -> Path:
    """Accept a run directory (holding model/) or the model directory itself."""
    path = Path(run_or_model_dir)
    if (path / MODEL / SPEC).is_file():
        return path / MODEL
    if (path / SPEC).is_file():
        return path
    if not path.exists():
        raise DataError(f"{path}: no such directory; give a run directory written by `trainer train`")
    raise DataError(f"{path}: neither a run directory (no {MODEL}/{SPEC}) nor a model directory; "
                    "give a run directory written by `trainer train`")


# ---- thresholds -------------------------------------------------------------------------------
def default_thresholds(spec: ModelSpec) -> dict[str, Thresholds]:
    return {t.name: Thresholds.default(len(t.labels)) for t in spec.targets if t.multi_label}


def write_thresholds(model_dir: str | Path, thresholds: dict[str, Thresholds]) -> Path:
    return atomic_write_json(Path(model_dir) / THRESHOLDS,
                             {"format": 2, "targets": {name: th.to_dict() for name, th in thresholds.items()}})


def read_thresholds(model_dir: str | Path, spec: ModelSpec) -> dict[str, Thresholds]:
    """Per multi-label target, the saved thresholds; 0.5 everywhere when the model has none yet (not evaluated)."""
    path = Path(model_dir) / THRESHOLDS
    out = default_thresholds(spec)
    if not path.is_file():
        return out
    raw = read_json(path, REEVALUATE)
    saved = raw.get("targets") if raw.get("format") == 2 else {spec.primary.name: raw}
    if not isinstance(saved, dict):
        raise DataError(f"{path}: \"targets\" must map target names to thresholds; {REEVALUATE}")
    for name, entry in saved.items():
        if name not in out:
            continue   # a target without thresholds (single-label), or one the model no longer has
        out[name] = _thresholds(path, name, entry, len(spec.target(name).labels))
    return out


def _thresholds(path: Path, name: str, raw: Any, n_labels: int) -> Thresholds:
    try:
        th = Thresholds(raw["kind"], [float(v) for v in raw["values"]], list(raw.get("fallback", [])),
                        bool(raw.get("at_least_one", False)),   # files written before the rule: off
                        {str(k): float(v) for k, v in (raw.get("groups") or {}).items()},
                        str(raw.get("note") or ""))   # files written before the note: none
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: malformed thresholds of target {name!r} ({exc}); {REEVALUATE}") from None
    if th.kind not in THRESHOLD_KINDS:
        raise DataError(f"{path}: target {name!r} has unknown threshold kind {th.kind!r}; {REEVALUATE}")
    if len(th.values) != n_labels:
        raise DataError(f"{path}: {len(th.values)} thresholds for {n_labels} labels of target {name!r}; {REEVALUATE}")
    return th


# ---- fusion (a target answered by its head and the gazetteer together) -------------------------------------
def fused_targets(spec: ModelSpec) -> list[str]:
    """Targets whose answer combines the model's head with the gazetteer (spec.settings["gazetteer"])."""
    return list((spec.settings.get("gazetteer") or {}).get("targets", []))


def gazetteer_only(spec: ModelSpec) -> dict[str, tuple[str, ...]]:
    """Per fused target, the labels its head cannot score (seen in no training page, or too rarely to keep),
    answered by the gazetteer alone (spec.settings["gazetteer"]["gazetteer_only"]; absent in older models)."""
    saved = (spec.settings.get("gazetteer") or {}).get("gazetteer_only") or {}
    return {name: tuple(map(str, saved.get(name) or ())) for name in fused_targets(spec) if saved.get(name)}


def answer_spec(spec: ModelSpec) -> ModelSpec:
    """The spec of the model's answer: a fused target's labels are its head's and its gazetteer-only ones,
    sorted together (what predict, serve, evaluate and thresholds.json use); `spec` itself stays the heads'."""
    only = gazetteer_only(spec)
    if not only:
        return spec
    targets = [Target(t.name, t.problem, tuple(sorted(set(t.labels) | set(only[t.name]))), t.skip_unlabelled)
               if t.name in only else t for t in spec.targets]
    return ModelSpec(spec.model_type, targets, spec.settings)


def write_fusion(model_dir: str | Path, rules: dict[str, dict]) -> Path:
    return atomic_write_json(Path(model_dir) / FUSION, {"format": 1, "targets": rules})


def read_fusion(model_dir: str | Path, spec: ModelSpec) -> dict[str, dict]:
    """Per fused target, the combination rule picked by evaluation; the default before it ran."""
    out = {name: dict(DEFAULT_FUSION) for name in fused_targets(spec)}
    path = Path(model_dir) / FUSION
    if not out or not path.is_file():
        return out
    saved = read_json(path, REEVALUATE).get("targets")
    if not isinstance(saved, dict):
        raise DataError(f"{path}: \"targets\" must map target names to rules; {REEVALUATE}")
    for name, rule in saved.items():
        if name not in out:
            continue
        ok = isinstance(rule, dict) and (rule.get("rule") == "max" or (
            rule.get("rule") == "mean" and isinstance(rule.get("weight"), (int, float)) and 0 <= rule["weight"] <= 1))
        if not ok:
            raise DataError(f"{path}: target {name!r} has no valid rule (mean with a weight in [0, 1], or max); "
                            f"{REEVALUATE}")
        out[name] = rule
    return out
