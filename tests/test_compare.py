"""trainer compare: differing config keys, paired bootstrap, test-set checks, renderings."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from trainer.compare import bootstrap
from trainer.compare import CompareError, compare, differing_keys
from trainer.config import flatten

LABELS = ["acq", "crude", "earn", "grain"]


def _preds(golds, predicted, ids=None):
    ids = ids or [f"d{i}" for i in range(len(golds))]
    return [{"id": i, "gold": g, "predicted": p, "scores": {}} for i, g, p in zip(ids, golds, predicted)]


def _metrics(micro):
    return {"test": {"micro_f1": micro, "macro_f1": micro / 2, "accuracy": micro}}


def _random_case(n=120, seed=0, error_rate=0.3):
    """Gold label sets and a prediction that drops/adds labels at `error_rate`."""
    rng = np.random.default_rng(seed)
    gold = [sorted(set(rng.choice(LABELS, size=rng.integers(1, 3)))) for _ in range(n)]
    pred = []
    for g in gold:
        p = set(g)
        if rng.random() < error_rate:
            p.symmetric_difference_update({str(rng.choice(LABELS))})
        pred.append(sorted(p))
    return gold, pred


def test_compare_flatten_keeps_lists_as_values():
    flat = flatten({"a": {"b": {"c": 1}, "l": [1, 2]}, "e": {}})
    assert flat == {"a.b.c": 1, "a.l": [1, 2], "e": {}}


def test_compare_differing_keys_nested_and_lists():
    a = flatten({"model": {"tfidf": {"C": 1.0, "ngram_max": 2}}, "output": {"predict": ["x"]}})
    b = flatten({"model": {"tfidf": {"C": 3.0, "ngram_max": 2}}, "output": {"predict": ["x", "y"]}})
    c = flatten({"model": {"tfidf": {"C": 1.0, "ngram_max": 2}}, "output": {"predict": ["x"]}})
    assert differing_keys([a, b, c]) == ["model.tfidf.C", "output.predict"]
    assert differing_keys([a, c]) == []


def test_compare_missing_keys_filled_with_schema_defaults(make_run_dir):
    gold, pred = _random_case()
    explicit = make_run_dir("explicit", config={"train": {"epochs": 4}}, predictions=_preds(gold, pred),
                            metrics=_metrics(0.8))
    short = make_run_dir("short", config={"model": {"tfidf": {"C": 2.0}}}, predictions=_preds(gold, pred),
                         metrics=_metrics(0.7))
    comp = compare([explicit, short])
    # train.epochs: 4 is the schema default, so the runs agree on it; C differs from the default 1.0
    assert comp.config_keys == ["model.tfidf.C"]
    by_run = {r["run"]: r for r in comp.rows}
    assert by_run["explicit"]["model.tfidf.C"] == 1.0 and by_run["short"]["model.tfidf.C"] == 2.0


def test_compare_sorts_rows_by_metric(make_run_dir):
    gold, pred = _random_case()
    dirs = [make_run_dir(f"r{i}", config={"train": {"seed": i}}, predictions=_preds(gold, pred), metrics=_metrics(m))
            for i, m in enumerate([0.5, 0.9, 0.7])]
    assert [r["run"] for r in compare(dirs).rows] == ["r1", "r2", "r0"]


def test_compare_identical_runs_have_zero_delta(make_run_dir):
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8), labels=LABELS)
    b = make_run_dir("b", config={"train": {"seed": 1}}, predictions=_preds(gold, pred), metrics=_metrics(0.8),
                     labels=LABELS)
    row = next(r for r in compare([a, b], baseline=a).rows if r["run"] == "b")
    assert (row["delta_micro_f1"], row["delta_low"], row["delta_high"]) == (0.0, 0.0, 0.0)
    assert row["significant"] == "no"


def test_compare_better_on_every_document_is_significant(make_run_dir):
    gold, _ = _random_case()
    wrong = [[label for label in LABELS if label not in g][:1] for g in gold]   # never a gold label
    good = make_run_dir("good", predictions=_preds(gold, gold), metrics=_metrics(1.0), labels=LABELS)
    bad = make_run_dir("bad", predictions=_preds(gold, wrong), metrics=_metrics(0.0), labels=LABELS)
    row = next(r for r in compare([good, bad], baseline=bad, metric="accuracy").rows if r["run"] == "good")
    assert row["delta_low"] > 0 and row["significant"] == "yes"
    assert row["delta_accuracy"] == pytest.approx(1.0)


def test_compare_bootstrap_accuracy_delta_matches_analytic_moments():
    rng = np.random.default_rng(1)
    n = 400
    gold = [["earn"]] * n
    a = [["earn"] if rng.random() < 0.8 else ["acq"] for _ in range(n)]
    b = [["earn"] if rng.random() < 0.6 else ["acq"] for _ in range(n)]
    runs = [bootstrap.doc_counts(gold, p, LABELS) for p in (a, b)]
    samples = bootstrap.bootstrap_metrics(runs, n_resamples=2000, seed=3)
    deltas = samples[0]["accuracy"] - samples[1]["accuracy"]
    d = runs[0].exact - runs[1].exact
    se = d.std() / np.sqrt(n)                   # the bootstrap distribution's analytic spread
    assert deltas.mean() == pytest.approx(d.mean(), abs=4 * se / np.sqrt(2000) + 1e-3)
    assert deltas.std() == pytest.approx(se, rel=0.1)


def test_compare_bootstrap_macro_f1_ignores_labels_a_resample_lacks():
    # "grain" has one test document: most resamples lack it; a perfect run must still score 1.0 on each
    gold = [["earn"]] * 30 + [["acq"]] * 30 + [["grain"]]
    counts = bootstrap.doc_counts(gold, gold, LABELS)   # "crude" never appears: it counts as 0 everywhere
    samples = bootstrap.bootstrap_metrics([counts], n_resamples=200, seed=0)[0]["macro_f1"]
    assert bootstrap.point_metrics(counts)["macro_f1"] == 0.75
    assert np.allclose(samples, 0.75)


def test_compare_point_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import MultiLabelBinarizer
    gold, pred = _random_case(n=300, seed=5, error_rate=0.5)
    got = bootstrap.point_metrics(bootstrap.doc_counts(gold, pred, LABELS))
    mlb = MultiLabelBinarizer(classes=LABELS)
    G, P = mlb.fit_transform(gold), mlb.transform(pred)
    assert got["micro_f1"] == pytest.approx(f1_score(G, P, average="micro"))
    assert got["macro_f1"] == pytest.approx(f1_score(G, P, average="macro", zero_division=0))
    assert got["accuracy"] == pytest.approx(accuracy_score(G, P))


def test_compare_bootstrap_is_seeded(make_run_dir):
    gold, pred = _random_case()
    gold2, pred2 = _random_case(seed=9)
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    b = make_run_dir("b", predictions=_preds(gold, pred2), metrics=_metrics(0.7))
    first, second = compare([a, b], baseline=a, seed=7).rows, compare([a, b], baseline=a, seed=7).rows
    assert first == second
    other = compare([a, b], baseline=a, seed=8).rows
    assert [(r["delta_low"], r["delta_high"]) for r in other] != [(r["delta_low"], r["delta_high"]) for r in first]


def test_compare_refuses_different_test_sets(make_run_dir):
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    other_ids = [f"x{i}" for i in range(len(gold))]
    b = make_run_dir("b", predictions=_preds(gold, pred, ids=other_ids), metrics=_metrics(0.8))
    with pytest.raises(CompareError, match="different test sets"):
        compare([a, b], baseline=a)


def test_compare_refuses_same_documents_with_other_gold_labels(make_run_dir):
    gold, pred = _random_case()
    other_gold = [g if i % 10 else ["grain"] for i, g in enumerate(gold)]   # another build or label mapping
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    b = make_run_dir("b", predictions=_preds(other_gold, pred), metrics=_metrics(0.8))
    for resamples in (1000, 0):   # refused with intervals and without
        with pytest.raises(CompareError, match="different gold labels"):
            compare([a, b], n_resamples=resamples)


def test_compare_refuses_other_label_spaces(make_run_dir):
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8), labels=LABELS)
    b = make_run_dir("b", predictions=_preds(gold, pred), metrics=_metrics(0.8), labels=LABELS[:3])
    with pytest.raises(CompareError, match="different topics label spaces"):
        compare([a, b], n_resamples=0)


def test_compare_refuses_a_target_a_run_does_not_have(make_run_dir):
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8), labels=LABELS)
    with pytest.raises(CompareError, match="no target 'regions'"):
        compare([a], target="regions")


def test_compare_checks_test_sets_without_resamples(make_run_dir):
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    b = make_run_dir("b", predictions=_preds(gold[:-1], pred[:-1]), metrics=_metrics(0.8))
    with pytest.raises(CompareError, match="different test sets"):
        compare([a, b], n_resamples=0)


def test_compare_refuses_reordered_test_sets(make_run_dir):
    gold, pred = _random_case()
    rows = _preds(gold, pred)
    a = make_run_dir("a", predictions=rows, metrics=_metrics(0.8))
    b = make_run_dir("b", predictions=rows[::-1], metrics=_metrics(0.8))
    with pytest.raises(CompareError, match="different order"):
        compare([a, b])


def test_compare_baseline_needs_predictions(make_run_dir):
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    b = make_run_dir("b", metrics=_metrics(0.7))
    with pytest.raises(CompareError, match="predictions.jsonl"):
        compare([a, b], baseline=a)


def test_compare_refuses_a_directory_without_config(tmp_path):
    with pytest.raises(CompareError, match="not a run directory"):
        compare([tmp_path])


@pytest.fixture
def two_runs(make_run_dir):
    gold, pred = _random_case()
    _, pred2 = _random_case(seed=4)
    a = make_run_dir("a", config={"model": {"tfidf": {"C": 1.0}}}, predictions=_preds(gold, pred),
                     metrics=_metrics(0.8), meta={"train_seconds": 3.5, "model_parameters": 1200})
    b = make_run_dir("b", config={"model": {"tfidf": {"C": 3.0}}}, predictions=_preds(gold, pred2),
                     metrics=_metrics(0.7))
    return compare([a, b], baseline=a)


def test_compare_markdown_marks_not_significant(make_run_dir):
    from trainer.compare.render import NOT_SIGNIFICANT, to_markdown
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    b = make_run_dir("b", config={"train": {"seed": 2}}, predictions=_preds(gold, pred), metrics=_metrics(0.8))
    md = to_markdown(compare([a, b], baseline=a))
    b_line = next(line for line in md.splitlines() if line.startswith("| b |"))
    assert NOT_SIGNIFICANT in b_line and "| train.seed |" in md.splitlines()[0] + "|"


def test_compare_csv_has_raw_values(two_runs):
    from trainer.compare.render import to_csv
    rows = list(csv.DictReader(io.StringIO(to_csv(two_runs))))
    assert [r["run"] for r in rows] == ["a", "b"]
    assert float(rows[0]["micro_f1"]) == 0.8 and rows[0]["parameters"] == "1200"
    assert float(rows[1]["delta_low"]) <= float(rows[1]["delta_micro_f1"]) <= float(rows[1]["delta_high"])


def test_compare_html_is_self_contained(two_runs):
    from trainer.compare.render import to_html
    page = to_html(two_runs)
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page


def test_compare_plot_writes_png(two_runs, tmp_path):
    from trainer.compare.render import write_plot
    out = write_plot(two_runs, tmp_path / "plot.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_cli_renders_markdown(make_run_dir):
    from typer.testing import CliRunner

    from trainer.cli import app
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    b = make_run_dir("b", config={"train": {"seed": 2}}, predictions=_preds(gold, pred), metrics=_metrics(0.6))
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "--baseline", str(a), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].startswith("| a |")


def test_compare_cli_reports_mismatch_without_traceback(make_run_dir):
    from typer.testing import CliRunner

    from trainer.cli import app
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    b = make_run_dir("b", predictions=_preds(gold[:-1], pred[:-1]), metrics=_metrics(0.8))
    result = CliRunner().invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 1
    assert "different test sets" in result.output and "Traceback" not in result.output


@pytest.mark.integration
def test_compare_transformer_and_linear_runs_on_one_dataset(tiny_run_dir, tiny_dataset_dir, tmp_path):
    from trainer.config import load_config
    from trainer.config import RunConfig
    from trainer.workflows.train import train
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(tmp_path), "name": "tiny-tfidf"}}
    linear = train(load_config(None, RunConfig, tree=tree))
    comp = compare([tiny_run_dir, linear], baseline=tiny_run_dir)
    assert "model.type" in comp.config_keys and {r["run"] for r in comp.rows} == {tiny_run_dir.name, "tiny-tfidf"}
    # each kind's own model settings (max_length, tfidf.min_df, ...) are counted in a note, not made columns
    assert not [k for k in comp.config_keys if k.startswith("model.") and k != "model.type"]
    assert any("model settings that only some of these kinds have" in n for n in comp.notes)
    row = next(r for r in comp.rows if r["run"] == "tiny-tfidf")
    assert row["delta_low"] <= row["delta_micro_f1"] <= row["delta_high"]
    assert all(r["parameters"] and r["model_bytes"] for r in comp.rows)


@pytest.fixture
def long_named_runs(make_run_dir):
    gold, pred = _random_case()
    _, pred2 = _random_case(seed=4)
    a = make_run_dir("reuters-topics-tfidf", config={"model": {"tfidf": {"C": 1.0, "classifier": "svm"}},
                                                     "train": {"class_weights": "balanced"}},
                     predictions=_preds(gold, pred), metrics=_metrics(0.8), meta={"train_seconds": 3.5})
    b = make_run_dir("reuters-topics-tfidf-C0.3-logreg-no-weights",
                     config={"model": {"tfidf": {"C": 0.3, "classifier": "logreg"}}, "train": {"class_weights": "none"}},
                     predictions=_preds(gold, pred2), metrics=_metrics(0.7), meta={"train_seconds": 40.0})
    return compare([a, b], baseline=a)


@pytest.mark.parametrize("width", [160, 120, 100])
def test_compare_terminal_table_keeps_names_and_settings_readable(long_named_runs, width):
    """At a terminal the run names and the differing settings keep their width (the issue: squeezed to zero
    at 160 columns with --baseline); metrics and costs give way instead."""
    from rich.console import Console

    from trainer.console.compare_table import to_rich_table
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=True, color_system=None).print(to_rich_table(long_named_runs, width))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width
    flat = text.replace("│", " ").replace("\n", " ")
    if width >= 160:   # wide enough: every name on one line
        assert "reuters-topics-tfidf-C0.3-logreg-no-weights" in text
    else:              # narrower: long names wrap, at least MIN_NAME_WIDTH characters a line
        from trainer.console.compare_table import MIN_NAME_WIDTH
        assert "reuters-topics-tfidf-C0.3-logreg-no-weights"[:MIN_NAME_WIDTH] in text
    for value in ("svm", "logreg", "balanced", "none", "0.3", "1.0"):
        assert f" {value} " in flat
    assert "settings: C = model.tfidf.C" in flat.replace("  ", " ") or "model.tfidf.C" in text
    assert "-0." in text    # the delta is shown
    if width < 160:
        assert "left out at this width" in text


def test_compare_terminal_table_squeezes_nothing_at_160_columns(long_named_runs):
    from rich.console import Console

    from trainer.console.compare_table import to_rich_table
    out = io.StringIO()
    Console(file=out, width=160, force_terminal=True, color_system=None).print(to_rich_table(long_named_runs, 160))
    header = next(line for line in out.getvalue().splitlines() if "run" in line and "┃" in line)
    cells = [c.strip() for c in header.strip("┃").split("┃")]
    assert cells[:4] == ["run", "classifier", "C", "class_weights"]
    assert all(cells)   # no header folded to nothing


@pytest.fixture
def bucketed_runs(make_run_dir):
    """Three runs of two kinds with label-frequency buckets against a baseline: what `trainer evaluate` writes,
    and the table that needed ~250 columns before the names stopped being squeezed."""
    gold, pred = _random_case()
    buckets = {">=100": {"labels": ["acq", "crude"]}, "20-99": {"labels": ["earn"]}, "5-19": {"labels": ["grain"]}}

    def run(name, config, predicted, micro):
        metrics = {"test": {"micro_f1": micro, "macro_f1": micro / 2, "accuracy": micro, "buckets": buckets}}
        return make_run_dir(name, config=config, predictions=_preds(gold, predicted), metrics=metrics,
                            meta={"train_seconds": 300.5}, labels=LABELS)
    a = run("scraped-topics-minilm", {"model": {"type": "transformer", "reading": {"mode": "windows"}},
                                      "train": {"learning_rate": 5e-5}}, pred, 0.8)
    b = run("scraped-topics-tfidf-svm", {"model": {"type": "tfidf-linear"}}, _random_case(seed=4)[1], 0.7)
    c = run("scraped-topics-minilm-head", {"model": {"type": "transformer", "reading": {"mode": "truncate"}},
                                           "train": {"learning_rate": 3e-5}}, _random_case(seed=5)[1], 0.75)
    return compare([a, b, c], baseline=a)


@pytest.mark.parametrize("width", [160, 120, 100])
def test_compare_bucket_columns_give_way_before_names_and_settings(bucketed_runs, width):
    from rich.console import Console

    from trainer.console.compare_table import to_rich_table
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=True, color_system=None).print(to_rich_table(bucketed_runs, width))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width
    rows = [line for line in text.splitlines() if line.startswith("│ scraped")]
    for name, kind, rate in (("scraped-topics-minilm-head", "transformer", "3e-05"),
                             ("scraped-topics-tfidf-svm", "tfidf-linear", "0.0001")):
        assert any(f" {name} " in row and f" {kind} " in row and f" {rate} " in row for row in rows), text
    if width >= 160:   # the buckets still fit, their delta on a second line
        assert "F1 >=100" in text and "below it the delta vs the baseline" in text
    else:
        assert "macro_f1 >=100 train docs" in text.split("left out at this width")[1]


def test_compare_plot_names_the_differing_settings_and_shows_two_metrics(long_named_runs, monkeypatch):
    from trainer.compare import render
    labels = render.run_labels(long_named_runs)
    assert labels[0] == "reuters-topics-tfidf\nclassifier=svm, C=1.0, class_weights=balanced"
    assert render.plot_metrics(long_named_runs) == ["micro_f1", "macro_f1"]
    assert render.plot_metrics(long_named_runs, ["accuracy"]) == ["accuracy"]
    panels = []
    real = render._errorbars
    monkeypatch.setattr(render, "_errorbars", lambda ax, names, values, lows, highs: (
        panels.append((ax.get_subplotspec().rowspan.start, values)), real(ax, names, values, lows, highs)))
    png = render.plot_png_bytes(long_named_runs, ["micro_f1", "macro_f1", "accuracy"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(panels) == 6                       # 3 metrics x (values, deltas against the baseline)
    assert panels[0][1] == [0.7, 0.8] and panels[2][1] == [0.35, 0.4]   # best at the top: reversed
    deltas = [p for p in panels if p[0] == 1]
    assert deltas[0][1][1] == 0.0 and deltas[0][1][0] < 0   # the baseline's delta is 0


def test_compare_cli_plot_metric_is_checked(two_runs, make_run_dir, tmp_path):
    from typer.testing import CliRunner

    from trainer.cli import app
    gold, pred = _random_case()
    a = make_run_dir("a", predictions=_preds(gold, pred), metrics=_metrics(0.8))
    result = CliRunner().invoke(app, ["compare", str(a), "--plot", str(tmp_path / "p.png"), "--plot-metric", "f2"])
    assert result.exit_code == 1 and "--plot-metric 'f2'" in result.output
    widths = {}
    for metrics in (["macro_f1"], ["macro_f1", "accuracy", "micro_f1"]):
        png = tmp_path / f"{len(metrics)}.png"
        ok = CliRunner().invoke(app, ["compare", str(a), "--plot", str(png),
                                      *[arg for m in metrics for arg in ("--plot-metric", m)]])
        assert ok.exit_code == 0, ok.output
        widths[len(metrics)] = _png_size(png)[0]
    # one panel per asked metric: three panels make a wider figure than one (a dropped flag gives the default two)
    assert widths[3] > widths[1] + 600


def _png_size(path):
    """(width, height) from a PNG file's IHDR header; fails on anything that is not a PNG."""
    import struct
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])
