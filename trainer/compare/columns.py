"""The metric and cost columns of a comparison (the table, the plot and the CLI's --metric choices)."""
from __future__ import annotations

from trainer import metric_names

METRIC_COLUMNS = metric_names.HEADLINE   # the metric vocabulary's headline ones
COST_COLUMNS = ("train_seconds", "train_examples_per_s", "parameters", "model_bytes", "predict_docs_per_s")
