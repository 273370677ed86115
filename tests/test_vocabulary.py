"""The two vocabularies (trainer/metric_names.py, trainer/data/reader_kinds.py) drive every list of their names:
config choices, reports, console, compare, the readers' dispatch, predict's detection and the server's upload."""
from __future__ import annotations

import json
import subprocess
import sys
import typing

import pytest

from trainer import metric_names
from trainer.data import reader_kinds

HTML_PAGE = ("<html><head><title>Oil prices climb</title></head><body><article><h1>Oil prices climb</h1>"
             + "<p>Crude output fell as OPEC cut supply, traders in Tokyo said on Monday.</p>" * 5
             + "</article></body></html>")


def _with_extra_row(table_module: str, anchor: str, row: str, then: str) -> dict:
    """Run `then` (which prints one JSON object) in a fresh interpreter where the table module got one more row,
    added to its source before anything else imports it: what a contributor's one-line change would do."""
    script = f"""
import importlib.util, inspect, json, sys
spec = importlib.util.find_spec({table_module!r})
source = open(spec.origin, encoding="utf-8").read()
assert source.count({anchor!r}) == 1
source = source.replace({anchor!r}, {anchor!r} + "\\n    " + {row!r} + ",", 1)
module = importlib.util.module_from_spec(spec)
sys.modules[{table_module!r}] = module
exec(compile(source, spec.origin, "exec"), module.__dict__)
{then}
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- metrics --------------------------------------------------------------------------------------------
def test_metric_lists_equal_the_table():
    from trainer.compare import METRIC_COLUMNS, bootstrap
    from trainer.console import compare_table
    from trainer.config.run_config import EvalSection
    from trainer.evaluation import html_report, long_texts, report

    assert typing.get_args(EvalSection.model_fields["metric"].annotation) == metric_names.SELECTABLE
    assert typing.get_args(EvalSection.model_fields["fusion_metric"].annotation) == metric_names.FUSION
    assert report.HEADLINE == metric_names.REPORTED
    assert html_report.HEADLINE == metric_names.HTML_HEADLINE
    assert long_texts.KEYS == bootstrap.METRICS == METRIC_COLUMNS == metric_names.HEADLINE
    assert {k: compare_table.SHORT_HEADERS[k] for k in metric_names.HEADLINE} == {
        k: metric_names.name(k) for k in metric_names.HEADLINE}
    # a selectable metric must be a headline one: compare computes (and a fit of several targets averages) those
    assert set(metric_names.SELECTABLE) <= set(METRIC_COLUMNS)
    assert set(metric_names.ESSENTIAL) <= set(metric_names.HEADLINE)


@pytest.mark.parametrize("problem, gold, pred", [
    ("multi_label", [["a", "b"], ["b"], []], [["a"], ["b", "c"], ["c"]]),
    ("single_label", ["a", "b", "c"], ["a", "c", "c"]),
])
def test_every_metric_of_the_table_is_computed(problem, gold, pred):
    """A row without its computation is caught: the bundled module returns every overall and per-label key."""
    from trainer.compare import bootstrap
    from trainer.metrics import compute_metrics

    m = compute_metrics(gold, pred, ["a", "b", "c"], problem)
    assert set(metric_names.REPORTED) <= set(m)
    per_label = {r.key for r in metric_names.METRICS if r.scope == "per_label"}
    assert per_label <= set(m["per_label"]["a"])
    counts = bootstrap.doc_counts([g if isinstance(g, list) else [g] for g in gold],
                                  [p if isinstance(p, list) else [p] for p in pred], ["a", "b", "c"])
    assert set(bootstrap.point_metrics(counts)) == set(metric_names.HEADLINE)


def test_console_and_summary_name_metrics_from_the_table(monkeypatch):
    from trainer.console import summary

    m = {"n_examples": 3, **{key: 0.125 * (i + 1) for i, key in enumerate(metric_names.HEADLINE)}}
    assert summary._scores(m).startswith("micro-F1 0.125  macro-F1 0.250  accuracy 0.375")
    m.update(accuracy=0.75, macro_f1=0.25)
    monkeypatch.setattr(metric_names, "HEADLINE", ("accuracy", "macro_f1"))
    assert summary._scores(m) == "accuracy 0.750  macro-F1 0.250"


def test_console_columns_per_problem_come_from_the_table():
    multi, single = metric_names.console_headline("multi_label"), metric_names.console_headline("single_label")
    # single-label micro-F1 equals accuracy; multi-label subset accuracy adds little at a glance
    assert multi[:2] == ("micro_f1", "macro_f1") and "accuracy" not in multi
    assert single[:2] == ("macro_f1", "accuracy") and "micro_f1" not in single


def test_a_metric_row_reaches_config_reports_console_and_compare():
    row = ('Metric("scratch_f1", "scratch-F1", "scr", headline=True, selectable=True, fusion=True, html=True)')
    out = _with_extra_row("trainer.metric_names", "METRICS: tuple[Metric, ...] = (", row, """
from trainer.config.run_config import EvalSection
from trainer.evaluation import html_report, report
from trainer.console import summary
from trainer.compare import METRIC_COLUMNS
from trainer.console import compare_table
from trainer import metric_names
m = {"n_examples": 2, **{key: 0.5 for key in metric_names.HEADLINE}, "scratch_f1": 0.625}
print(json.dumps({
    "metric": EvalSection(metric="scratch_f1").metric,
    "fusion": EvalSection(fusion_metric="scratch_f1").fusion_metric,
    "report": list(report.HEADLINE), "html": list(html_report.HEADLINE),
    "summary": summary._scores(m),
    "compare": list(METRIC_COLUMNS), "short": compare_table.SHORT_HEADERS["scratch_f1"],
    "tiny": compare_table.TINY_HEADERS["scratch-F1"]}))
""")
    assert out["metric"] == out["fusion"] == "scratch_f1"
    assert out["report"][0] == out["html"][0] == out["compare"][0] == "scratch_f1"
    assert out["summary"].startswith("scratch-F1 0.625")
    assert out["short"] == "scratch-F1" and out["tiny"] == "scr"


# ---- readers --------------------------------------------------------------------------------------------
def test_reader_lists_equal_the_table():
    from trainer.data.config import SourceConfig
    from trainer.serving import http, inputs

    assert typing.get_args(SourceConfig.model_fields["kind"].annotation) == reader_kinds.KINDS
    assert inputs.READER_KINDS == tuple(r.kind for r in reader_kinds.READERS if r.single_file)
    assert http.PAGE_KINDS == {s: r.kind for r in reader_kinds.READERS if r.page for s in r.suffixes}
    page = http.page_html("run", {}, 1024)
    assert 'accept="' + ",".join(http.PAGE_KINDS) + ",text/plain,text/html" in page


def test_reader_table_drives_dispatch_and_detection(tmp_path):
    from trainer.data import readers
    from trainer.serving.inputs import detect_kind

    for row in reader_kinds.READERS:
        module = readers._module(row.kind)
        assert module.__name__ == f"trainer.data.readers.{row.module}"
        assert all(callable(getattr(module, f)) for f in ("inputs", "plan", "read_unit"))
        for suffix in row.suffixes:
            path = tmp_path / f"a{suffix.upper()}"          # endings match in any case
            path.write_text("08:25 GMT18 February 2020\nListen Live\nText")
            assert detect_kind(path) == row.kind


def test_every_page_ending_of_the_table_is_read_by_the_upload():
    from trainer.data.article import Rejected
    from trainer.serving.http import PAGE_KINDS, read_page

    for suffix, kind in PAGE_KINDS.items():
        data = HTML_PAGE if kind == "html" else "Oil prices climb\n\n" + "Crude output fell as OPEC cut supply. " * 20
        articles = [a for a in read_page(data.encode(), f"saved{suffix}") if not isinstance(a, Rejected)]
        assert articles and "Crude output fell" in articles[0].body, suffix


def test_a_reader_row_reaches_config_dispatch_predict_and_upload(tmp_path):
    row = 'ReaderKind("scratchpage", "scraped", (".scratch",), "scratch page", page=True)'
    page = tmp_path / "note.SCRATCH"
    page.write_text("Oil prices climb\n\n" + "Crude output fell as OPEC cut supply. " * 20)
    out = _with_extra_row("trainer.data.reader_kinds", "READERS: tuple[ReaderKind, ...] = (", row, f"""
from trainer.data import readers
from trainer.data.config import SourceConfig
from trainer.serving import http
from trainer.serving.inputs import detect_kind, READER_KINDS
print(json.dumps({{"config": SourceConfig(kind="scratchpage", path="x").kind,
                   "module": readers._module("scratchpage").__name__,
                   "detected": detect_kind(__import__("pathlib").Path({str(page)!r})),
                   "predict": "scratchpage" in READER_KINDS, "upload": http.PAGE_KINDS.get(".scratch")}}))
""")
    assert out == {"config": "scratchpage", "module": "trainer.data.readers.scraped", "detected": "scratchpage",
                   "predict": True, "upload": "scratchpage"}
