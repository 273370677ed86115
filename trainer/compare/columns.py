"""The metric and cost columns of a comparison (the table, the plot and the CLI's --metric choices)."""
from __future__ import annotations

METRIC_COLUMNS = ("micro_f1", "macro_f1", "accuracy")
COST_COLUMNS = ("train_seconds", "train_examples_per_s", "parameters", "model_bytes", "predict_docs_per_s")
