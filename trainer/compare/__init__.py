"""`trainer compare`: one row per run directory, the config keys that differ, metrics, costs,
and against a baseline the metric delta with a paired-bootstrap 95% interval. Runs are compared on
one target (`--target`, default: the first run's first target), on the same test documents with the
same gold labels and label space.

Rendering (terminal, Markdown, CSV, HTML, PNG) lives in `trainer.compare.render`; the rows in `comparison`,
a run as read in `runs`, the refusals in `checks`, the bootstrap intervals in `intervals` (on `bootstrap`).
"""
from __future__ import annotations

from trainer.compare.checks import check_same_test_set, check_scored_on_training_data
from trainer.compare.columns import COST_COLUMNS, METRIC_COLUMNS
from trainer.compare.comparison import Comparison, compare, differing_keys
from trainer.compare.runs import CompareError, Run, load_run

__all__ = ["COST_COLUMNS", "METRIC_COLUMNS", "CompareError", "Comparison", "Run", "check_same_test_set",
           "check_scored_on_training_data", "compare", "differing_keys", "load_run"]
