"""The metric vocabulary: one row per metric name the program writes, shows or accepts.

Config choices (eval.metric, eval.fusion_metric), the reports (report.md, report.html, the long-text tables),
the terminal (training table, summaries), the checkpoint selection of the transformer fit and compare all list
their metrics from this table, so adding a metric is one row here plus its computation (the bundled
`trainer_classification` module, or where a derived figure is computed). No imports: the config layer reads it.
"""
from __future__ import annotations

from dataclasses import dataclass

PROBLEMS = frozenset({"single_label", "multi_label"})


@dataclass(frozen=True)
class Metric:
    key: str                              # as written in metrics.json, train_log.jsonl (eval_<key>), configs
    name: str                             # shown to people: report.html, the terminal
    short: str = ""                       # the narrowest terminal tables; "" = name
    higher_is_better: bool = True
    scope: str = "overall"                # "overall": one figure per split; "per_label": one per label
    derived: bool = False                 # computed from other metrics (not by the classification module)
    headline: bool = False                # one of the few figures every summary, comparison and console shows
    headline_for: frozenset[str] = PROBLEMS   # problems whose training console shows it (see below)
    essential: bool = False               # stays in a terminal table too narrow for the other headline ones
    # may pick the best checkpoint (eval.metric) and sort compare: a headline one (compare computes those, and a
    # fit of several targets averages those)
    selectable: bool = False
    fusion: bool = False                  # may pick a gazetteer combination (eval.fusion_metric)
    html: bool = False                    # in report.html's headline table (report.md lists every overall one)

    @property
    def short_name(self) -> str:
        return self.short or self.name


# Order = the order every list shows them in. Single-label micro P/R/F1 equal accuracy (one answer per document),
# and multi-label (subset) accuracy adds little at a glance: the training console leaves those out.
METRICS: tuple[Metric, ...] = (
    Metric("micro_f1", "micro-F1", "micro", headline=True, headline_for=frozenset({"multi_label"}),
           essential=True, selectable=True, fusion=True, html=True),
    Metric("macro_f1", "macro-F1", "macro", headline=True, essential=True, selectable=True, fusion=True, html=True),
    Metric("accuracy", "accuracy", "acc.", headline=True, headline_for=frozenset({"single_label"}),
           selectable=True, html=True),
    Metric("micro_precision", "micro-precision", html=True),
    Metric("micro_recall", "micro-recall", html=True),
    Metric("macro_precision", "macro-precision"),
    Metric("macro_recall", "macro-recall"),
    # the mean of micro- and macro-F1: neither the frequent nor the rare labels given up for the other
    Metric("mean_f1", "mean F1", derived=True, fusion=True),
    Metric("precision", "precision", scope="per_label"),
    Metric("recall", "recall", scope="per_label"),
    Metric("f1", "F1", scope="per_label"),
)

BY_KEY = {m.key: m for m in METRICS}

# the views the rest of the program lists (tuples: usable as typing.Literal[...] arguments)
HEADLINE = tuple(m.key for m in METRICS if m.headline)
ESSENTIAL = tuple(m.key for m in METRICS if m.essential)
SELECTABLE = tuple(m.key for m in METRICS if m.selectable)
FUSION = tuple(m.key for m in METRICS if m.fusion)
HTML_HEADLINE = tuple(m.key for m in METRICS if m.html)
REPORTED = tuple(m.key for m in METRICS if m.scope == "overall" and not m.derived)


def name(key: str) -> str:
    """Display name of a metric key; an unknown key shows as itself."""
    return BY_KEY[key].name if key in BY_KEY else key


def short_name(key: str) -> str:
    return BY_KEY[key].short_name if key in BY_KEY else key


def higher_is_better(key: str) -> bool:
    return BY_KEY[key].higher_is_better


def console_headline(problem: str) -> tuple[str, ...]:
    """The headline metrics the training console shows for a target of this problem."""
    return tuple(m.key for m in METRICS if m.headline and problem in m.headline_for)
