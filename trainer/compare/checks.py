"""Refusals before any number is compared: runs scored on another dataset than they were trained on, runs
evaluated on different test documents, gold labels or label spaces."""
from __future__ import annotations

from typing import Sequence

from trainer import contracts
from trainer.compare.runs import CompareError, Run, as_list


def check_scored_on_training_data(runs: Sequence[Run]) -> None:
    """Refuse a run whose metrics.json says it was scored on a dataset other than the one it was trained on
    (`trainer evaluate --data` on a rebuilt dataset): its test documents may be ones it trained on, and two
    such runs agree on their test set while both leak."""
    for run in runs:
        scored = contracts.read_scored_dataset(run.path)
        if scored and scored.get("same_as_training") is False:
            raise CompareError(f"{run.name} was scored on {scored.get('path')} (given with --data), not the dataset "
                               f"it was trained on ({'; '.join(scored.get('changes') or [])}); its test metrics may "
                               f"count documents it trained on. Re-evaluate it on its own dataset (`trainer evaluate "
                               f"{run.path}`) or leave it out")


def check_same_test_set(runs: Sequence[Run]) -> None:
    """Refuse runs whose predictions for the target cover different documents (or list them in another
    order), carry different gold labels, or use different label spaces: their metrics are not comparable."""
    ref = runs[0]
    ref_rows = ref.target_rows()
    ref_ids = [r.get("id") for r in ref_rows]
    for run in runs[1:]:
        rows = run.target_rows()
        ids = [r.get("id") for r in rows]
        if ids != ref_ids:
            if set(map(str, ids)) == set(map(str, ref_ids)) and len(ids) == len(ref_ids):
                why = "the same documents in a different order"
            else:
                only_a, only_b = set(map(str, ref_ids)) - set(map(str, ids)), set(map(str, ids)) - set(map(str, ref_ids))
                why = (f"different documents ({len(ref_ids)} vs {len(ids)}; {len(only_a)} only in {ref.name}, "
                       f"{len(only_b)} only in {run.name})")
            raise CompareError(f"runs {ref.name} and {run.name} were evaluated on different test sets (target "
                               f"{run.target}): {why}. Compare runs trained on the same dataset directory, or re-evaluate them on "
                               "one (`trainer evaluate RUN_DIR --data DATASET`)")
        differ = sum(sorted(as_list(a.get("gold"))) != sorted(as_list(b.get("gold"))) for a, b in zip(ref_rows, rows))
        if differ:
            raise CompareError(f"runs {ref.name} and {run.name} have the same {run.target} test documents but "
                               f"different gold labels on {differ} of them (a different dataset build or label "
                               "mapping); compare runs evaluated on one dataset")
        if ref.labels is not None and run.labels is not None and sorted(ref.labels) != sorted(run.labels):
            a, b = set(ref.labels), set(run.labels)
            raise CompareError(f"runs {ref.name} and {run.name} predict different {run.target} label spaces "
                               f"({len(a - b)} labels only in {ref.name}, {len(b - a)} only in {run.name}, e.g. "
                               "another task.min_label_count); macro scores over different labels are not comparable")
