"""The audit of one dataset: out-of-fold scores (trainer.audit.scores), cleanlab's ranking per target
(trainer.audit.rank), the conflicting duplicates (trainer.audit.conflicts), written to the output folder:
label_issues.jsonl, duplicate_conflicts.jsonl, audit.json, report.html and a draft corrections file."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from trainer import contracts
from trainer.atomic import atomic_write_json, atomic_write_jsonl, atomic_write_text
from trainer.audit.conflicts import conflicting_duplicates
from trainer.audit.page import render_page
from trainer.audit.rank import rank_target
from trainer.audit.scores import out_of_fold
from trainer.audit.splits import default_targets, load_audited_splits, problem_of
from trainer.data.label_space import label_space
from trainer.errors import DataError

DEFAULT_FOLDS = 5
DEFAULT_SEED = 13
# the default scorer: the repo's Reuters TF-IDF baseline (configs/reuters-topics-tfidf.yaml), seconds per fold
DEFAULT_MODEL = {"type": "tfidf-linear", "tfidf": {"ngram_max": 1, "min_df": 2, "sublinear_tf": False,
                                                    "classifier": "svm", "C": 1.0}}


@dataclass
class AuditResult:
    out: Path | None
    issues: list[dict]                 # flagged documents, most suspicious first
    ranking: list[dict]                # every audited document and target, most suspicious first
    conflicts: list[dict]
    summary: dict = field(default_factory=dict)


def audit_config(dataset_dir: Path, run_cfg, targets: list[str], problems: dict[str, str], seed: int):
    """The scorer's run config: RUN_CONFIG's task, model and train sections on this dataset, else the
    TF-IDF default over `targets`."""
    from trainer.config import RunConfig
    if run_cfg is not None:
        cfg = run_cfg.model_copy(deep=True)
        cfg.data.dataset, cfg.data.build, cfg.data.limit = str(dataset_dir), None, None
        return cfg
    task = ({"target": targets[0], "problem": problems[targets[0]], "min_label_count": 1} if len(targets) == 1 else
            {"targets": [{"name": t, "problem": problems[t], "min_label_count": 1} for t in targets]})
    return RunConfig.model_validate({"data": {"dataset": str(dataset_dir)}, "task": task, "model": DEFAULT_MODEL,
                                     "train": {"class_weights": "balanced", "seed": seed}})


def audit_dataset(dataset_dir: str | Path, run_cfg=None, out: str | Path | None = None, *, folds: int = DEFAULT_FOLDS,
                  seed: int = DEFAULT_SEED, targets: list[str] | None = None, top: int = 50) -> AuditResult:
    """Audit the training and validation labels of `dataset_dir`; write the results to `out` (None: return only)."""
    started = time.perf_counter()
    dataset_dir = Path(dataset_dir)
    if out is not None:
        check_out(Path(out))
    splits, manifest = load_audited_splits(dataset_dir)
    train = splits["train"]
    if run_cfg is not None:
        targets = [t.name for t in run_cfg.task.resolved()]
    targets = targets or default_targets(manifest, train)
    for t in targets:
        if t not in train.column_names:
            raise DataError(f"{dataset_dir}: the training split has no label column {t!r} (columns: "
                            f"{', '.join(train.column_names)}); an audit needs training labels")
    problems = {t: problem_of(train, t) for t in targets}
    cfg = audit_config(dataset_dir, run_cfg, targets, problems, seed)
    resolved = cfg.task.resolved()
    spaces = []
    for k, target in enumerate(resolved):
        if not any(v for v in train[target.name]):
            raise DataError(f"{dataset_dir}: the training split has no {target.name!r} labels; an audit needs "
                            "training labels (build the dataset with that label column filled)")
        spaces.append(label_space(train, target.name, target.problem, target.min_label_count,
                                  skip_unlabelled=cfg.task.several))
    if len(train) < 2 * folds:
        raise DataError(f"{dataset_dir}: {len(train)} training documents, fewer than 2 x {folds} folds; use --folds 2")
    with tempfile.TemporaryDirectory(prefix="trainer-audit-") as work:   # the folds' fits, removed after
        scores = out_of_fold(cfg, dataset_dir, splits, spaces, manifest, folds, seed, Path(work))
    ranking = []
    for space in spaces:
        for split, ds in splits.items():
            if space.target not in scores.get(split, {}):
                continue
            given_all = ds[space.target]
            keep = [i for i, v in enumerate(given_all) if _counts(v, space)]
            given = [given_all[i] for i in keep]
            ranked = rank_target(given, scores[split][space.target][keep], space.labels, space.problem)
            ids, texts = ds["id"], ds["text"]
            for j, i in enumerate(keep):
                ranking.append({"id": str(ids[i]), "split": split, "target": space.target,
                                "given": _as_list(given[j]), "suggested": _as_list(ranked.suggested[j]),
                                "score": round(float(ranked.score[j]), 5), "flagged": bool(ranked.flagged[j]),
                                "first_line": _first_line(texts[i])})
    ranking.sort(key=lambda r: -r["score"])
    issues = [r for r in ranking if r["flagged"]]
    labels_of: dict[str, dict] = {}
    for ds in splits.values():
        for i, doc_id in enumerate(ds["id"]):
            labels_of[str(doc_id)] = {t: ds[t][i] for t in targets}
    conflicts = conflicting_duplicates(dataset_dir, manifest, labels_of, targets)
    summary = {"dataset": str(dataset_dir.resolve()), "targets": targets, "folds": folds, "seed": seed,
               "model": cfg.model.model_dump(mode="json"), "audited": {s: len(d) for s, d in splits.items()},
               "flagged": {t: sum(1 for r in issues if r["target"] == t) for t in targets},
               "conflicts": len(conflicts), "seconds": round(time.perf_counter() - started, 1)}
    result = AuditResult(Path(out) if out is not None else None, issues, ranking, conflicts, summary)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_audit(result, splits, spaces, top)
    return result


def check_out(out: Path) -> None:
    """The output folder is new, empty, or an earlier audit's (its files are replaced): never a folder of the
    user's whose report.html the audit would overwrite."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / contracts.AUDIT_SUMMARY).is_file():
        raise DataError(f"--out {out}: not empty and not an earlier audit (no {contracts.AUDIT_SUMMARY}); "
                        "give a new or empty folder")


def write_audit(result: AuditResult, splits: dict, spaces: list, top: int) -> None:
    out = result.out
    atomic_write_jsonl(out / contracts.LABEL_ISSUES, result.issues)
    atomic_write_jsonl(out / contracts.DUPLICATE_CONFLICTS, result.conflicts)
    atomic_write_json(out / contracts.AUDIT_SUMMARY, result.summary)
    atomic_write_text(out / contracts.AUDIT_REPORT, render_page(result, splits, spaces, top))
    atomic_write_text(out / contracts.SUGGESTED_CORRECTIONS, suggested_corrections(result.issues[:top]))


def suggested_corrections(issues: list[dict]) -> str:
    """A draft for labels.corrections: the top suspects with the audit's suggestion, to review line by line
    (keep a line, change its labels, write `drop`, or delete it)."""
    import json
    lines = ["# Draft from `trainer audit`: review every line before using it as labels.corrections.",
             "# id: [labels] relabels the document (its topic column), id: drop removes it,",
             "# id: {column: labels} names the column. Each line's comment is what the dataset gives now."]
    seen = set()
    for r in issues:
        if r["id"] in seen:
            continue
        seen.add(r["id"])
        lines.append(f"{json.dumps(r['id'])}: {{{json.dumps(r['target'])}: {json.dumps(r['suggested'])}}}"
                     f"   # given {r['given']}, score {r['score']}")
    return "\n".join(lines) + "\n"


def _counts(value, space) -> bool:
    """Whether a document counts for the target: single-label, its label is in the space; multi-label, any."""
    if space.problem == "single_label":
        return value in set(space.labels)
    return bool(value) if space.skip_unlabelled else True


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _first_line(text: str, width: int = 160) -> str:
    line = next((s.strip() for s in (text or "").splitlines() if s.strip()), "")
    return line[:width]
