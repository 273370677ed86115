"""Accuracy and micro/macro/per-label precision, recall and F1 for single- and multi-label classification.

An `evaluate` module shipped inside the `trainer` package and loaded by path, so metrics
never need the network. Multi-label inputs are multi-hot rows; single-label inputs are class ids.
Keep one import per line: evaluate's import scanner misreads `import a, b`.
"""
import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.metrics import precision_recall_fscore_support

_DESCRIPTION = """Subset accuracy (multi-label) or accuracy (single-label), micro and macro averaged
precision/recall/F1, and per-label precision/recall/F1/support, computed with scikit-learn
(zero_division=0: a label never predicted and never gold scores 0)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: multi-hot rows (config "multilabel") or class ids (default config).
    references: same shape as predictions.
    num_labels: number of labels (columns, or class ids 0..num_labels-1).
    label_names: optional names for the per-label entries (default: "0", "1", ...).
Returns:
    accuracy, micro_precision, micro_recall, micro_f1, macro_precision, macro_recall, macro_f1,
    per_label {name: {precision, recall, f1, support}}, n_examples.
Examples:
    >>> m = evaluate.load("trainer/metrics/trainer_classification", "multilabel")
    >>> m.compute(predictions=[[1, 0]], references=[[1, 1]], num_labels=2)["micro_recall"]
    0.5
"""

_CITATION = """@article{scikit-learn, title={Scikit-learn: Machine Learning in Python}, author={Pedregosa, F. and others},
journal={Journal of Machine Learning Research}, volume={12}, pages={2825--2830}, year={2011}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TrainerClassification(evaluate.Metric):
    def _info(self):
        if self.config_name == "multilabel":
            features = datasets.Features({"predictions": datasets.Sequence(datasets.Value("int8")),
                                          "references": datasets.Sequence(datasets.Value("int8"))})
        else:
            features = datasets.Features({"predictions": datasets.Value("int32"),
                                          "references": datasets.Value("int32")})
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=_CITATION,
                                   inputs_description=_KWARGS_DESCRIPTION, features=features)

    def _compute(self, predictions, references, num_labels=None, label_names=None):
        y_pred = np.asarray(predictions)
        y_true = np.asarray(references)
        multilabel = self.config_name == "multilabel"
        if num_labels is None:
            num_labels = y_true.shape[1] if multilabel else int(max(y_true.max(), y_pred.max())) + 1
        names = [str(n) for n in label_names] if label_names is not None else [str(i) for i in range(num_labels)]
        ids = list(range(num_labels))
        if multilabel:
            y_true = y_true.reshape(-1, num_labels)
            y_pred = y_pred.reshape(-1, num_labels)
        out = {"accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0}
        # single-label: ids outside 0..num_labels-1 are gold labels the model does not know (and unknown
        # predictions); micro averages count them, so a wrong answer is one error in precision and recall
        # alike and micro-P/R/F1 equal accuracy, as every single-label document gets exactly one answer
        outside = [] if multilabel else sorted({int(v) for v in np.concatenate([y_true, y_pred])} - set(ids))
        for average in ("micro", "macro"):
            p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=ids + outside if average == "micro"
                                                         else ids, average=average, zero_division=0)
            out.update({f"{average}_precision": float(p), f"{average}_recall": float(r), f"{average}_f1": float(f)})
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ids, average=None, zero_division=0)
        out["per_label"] = {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                   "support": int(s[i])} for i, name in enumerate(names)}
        out["n_examples"] = int(len(y_true))
        return out
