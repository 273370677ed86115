"""Command line: thin typer wrappers that parse arguments and call importable functions.

Heavy libraries are imported inside each command so `trainer --help` stays fast.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from trainer.errors import TrainerError

app = typer.Typer(help="Build news datasets, train topic/region classifiers, evaluate, predict, serve, compare.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Build and inspect datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@data_app.command("build")
def data_build(config: Path = typer.Argument(..., help="Data config YAML."),
               overrides: Optional[List[str]] = typer.Argument(None, help="Dotted overrides: key.sub=value"),
               engine: Optional[str] = typer.Option(None, help="local | ray (same as build.engine=...); ray joins "
                                                               "$RAY_ADDRESS or starts a Ray in this process."),
               workers: Optional[int] = typer.Option(None, help="Ray tasks at once (same as build.workers=...).")):
    """Read raw articles, label them, deduplicate, split, and write a dataset directory."""
    try:
        from trainer.data.build import build_dataset
        from trainer.data.config import DataConfig
        from trainer.config import load_config
        extra = ([f"build.engine={engine}"] if engine else []) + ([f"build.workers={workers}"] if workers else [])
        result = build_dataset(load_config(config, DataConfig, (overrides or []) + extra), config_path=config)
    except TrainerError as exc:
        _fail(exc)
    typer.echo(result.summary())


@data_app.command("inspect")
def data_inspect(dataset_dir: Path = typer.Argument(..., help="Dataset directory from `trainer data build`.")):
    """Label counts per split, missing labels, cross-split duplicates, empty texts, lengths. Exit 1 on a failed check."""
    try:
        from trainer.data.inspect import inspect_dataset
        report = inspect_dataset(dataset_dir)
    except TrainerError as exc:
        _fail(exc)
    typer.echo(report.render())
    raise typer.Exit(0 if report.ok else 1)


@app.command("validate")
def validate(files: Optional[List[Path]] = typer.Argument(None, help="Config files (data or run configs)."),
             explain: Optional[str] = typer.Option(None, "--explain", metavar="KEY",
                                                   help="Describe a run-config key (e.g. train.epochs, model) "
                                                        "and exit; prefix data. for a data-config key.")):
    """Check configs against the schema without running anything; --explain KEY describes a key."""
    from trainer.workflows.validate import explain_key, validate_file
    if explain is not None:
        try:
            typer.echo(explain_key(explain))
        except TrainerError as exc:
            _fail(exc)
        raise typer.Exit(0)
    if not files:
        _fail(TrainerError("give config files to validate, or --explain KEY"))
    failed = 0
    for path in files:
        try:
            kind = validate_file(path)
            typer.echo(f"ok    {path} ({kind} config)")
        except TrainerError as exc:
            failed += 1
            typer.secho(f"FAIL  {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1 if failed else 0)


@app.command("train")
def train(config: Path = typer.Argument(..., help="Run config YAML."),
          overrides: Optional[List[str]] = typer.Argument(None, help="Dotted overrides: train.epochs=2 model.max_length=128")):
    """Fine-tune a classifier; write runs/<name>/ (model, metrics, logs) and print the test metrics."""
    try:
        from trainer.config import RunConfig, load_config
        from trainer.workflows.summary import summary_lines
        from trainer.workflows.train import train as run_training
        cfg = load_config(config, RunConfig, overrides or [])
        lines = summary_lines(run_training(cfg, config_path=config), cfg)
    except TrainerError as exc:
        _fail(exc)
    for line in lines:
        typer.echo(line)


@app.command("evaluate")
def evaluate(run_dir: Path = typer.Argument(..., help="Run directory from `trainer train`."),
             data: Optional[Path] = typer.Option(None, help="Dataset directory (default: config.yaml's data.dataset)."),
             split: str = typer.Option("test", help="Split to evaluate; thresholds are tuned on validation."),
             overrides: Optional[List[str]] = typer.Argument(None, help="eval.* overrides, e.g. eval.thresholds=global eval.chunking.enabled=true")):
    """Score validation and SPLIT; write metrics.json, predictions.jsonl, report.md, confusion.png, model/thresholds.json."""
    try:
        from trainer.evaluation.report import render_summary
        from trainer.workflows.evaluate import evaluate as run_evaluate
        metrics = run_evaluate(run_dir, data=data, split=split, overrides=overrides or [])
    except TrainerError as exc:
        _fail(exc)
    typer.echo(render_summary(metrics))
    typer.echo(f"wrote {run_dir / 'metrics.json'}, predictions.jsonl, report.md")


@app.command("predict")
def predict(run_dir: Path = typer.Argument(..., help="Run directory from `trainer train`."),
            files: Optional[List[str]] = typer.Argument(None, help="Raw article files (scraped text, HTML); - reads one text from stdin."),
            input_file: Optional[str] = typer.Option(None, "--input", help="JSONL with \"text\" or \"id\"+\"title\"+\"body\" per line; - for stdin."),
            output: Optional[Path] = typer.Option(None, "--output", help="Write JSON lines here instead of stdout."),
            kind: Optional[str] = typer.Option(None, help="Reader for FILES: scraped, html, jsonl, csv (default: detected)."),
            top_k: Optional[int] = typer.Option(None, "--top-k", help="At most K labels and the K best scores."),
            threshold: Optional[float] = typer.Option(None, help="One threshold for every label instead of the tuned ones."),
            quantize: str = typer.Option("none", help="none or int8 (dynamic int8 Linear layers, CPU)."),
            batch_size: int = typer.Option(32, "--batch-size", help="Texts per forward pass.")):
    """Predict labels; JSON lines out: {"id", "labels", "scores"} per text or article."""
    try:
        import json
        from trainer.atomic import atomic_write_jsonl
        from trainer.serving.inputs import predict_inputs
        from trainer.serving.predictor import Predictor
        if not files and input_file is None:
            raise TrainerError("nothing to predict: give article FILES, - for stdin, or --input in.jsonl")
        if quantize not in ("none", "int8"):
            raise TrainerError(f"--quantize {quantize!r}: use none or int8")
        predictor = Predictor.load(run_dir, quantize=quantize, batch_size=batch_size)
        records = predict_inputs(predictor, files or [], input_file, kind, top_k, threshold, stdin=sys.stdin)
    except TrainerError as exc:
        _fail(exc)
    if output is not None:
        atomic_write_jsonl(output, records)
    else:
        for record in records:
            typer.echo(json.dumps(record, ensure_ascii=False))


@app.command("serve")
def serve(run_dir: Path = typer.Argument(..., help="Run directory from `trainer train`."),
          host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 exposes the server to the network."),
          port: int = typer.Option(8000, help="TCP port (1-65535)."),
          quantize: str = typer.Option("none", help="none or int8 (dynamic int8 Linear layers, CPU)."),
          api_docs: bool = typer.Option(False, "--api-docs", help="Also serve /docs and /openapi.json (Swagger UI "
                                                                  "loads its scripts from a CDN).")):
    """Serve the run's model over HTTP: POST /predict, GET /health, GET /labels, GET / (a form)."""
    try:
        from trainer.serving.http import serve as run_server
        if quantize not in ("none", "int8"):
            raise TrainerError(f"--quantize {quantize!r}: use none or int8")
        if not 1 <= port <= 65535:
            raise TrainerError(f"--port {port}: give a TCP port from 1 to 65535")
        run_server(run_dir, host=host, port=port, quantize=quantize, api_docs=api_docs)
    except TrainerError as exc:
        _fail(exc)


@app.command("compare")
def compare(run_dirs: List[Path] = typer.Argument(..., help="Run directories from `trainer train`."),
            baseline: Optional[Path] = typer.Option(None, help="Run to compare against: metric delta with a paired-bootstrap 95% CI."),
            metric: str = typer.Option("micro_f1", help="micro_f1, macro_f1 or accuracy: the sort key and the delta."),
            fmt: str = typer.Option("table", "--format", help="table (terminal), md, csv or html."),
            plot: Optional[Path] = typer.Option(None, help="Also write a PNG of the metric with its interval per run."),
            resamples: int = typer.Option(1000, help="Bootstrap resamples (0: no intervals)."),
            seed: int = typer.Option(0, help="Bootstrap seed."),
            target: Optional[str] = typer.Option(None, help="Target to compare (default: the first run's first).")):
    """One row per run: config keys that differ, test metrics, costs; deltas against --baseline."""
    try:
        from trainer.compare import compare as run_compare
        from trainer.compare import render
        if fmt not in render.FORMATS:
            raise TrainerError(f"--format {fmt!r}: use one of {', '.join(render.FORMATS)}")
        comp = run_compare(run_dirs, baseline=baseline, metric=metric, n_resamples=resamples, seed=seed,
                           target=target)
        if plot is not None:
            render.write_plot(comp, plot)
    except TrainerError as exc:
        _fail(exc)
    _print_comparison(comp, fmt)
    if plot is not None:
        typer.echo(f"wrote {plot}", err=True)


def _print_comparison(comp, fmt: str) -> None:
    from trainer.compare import render
    if fmt == "table":
        render.print_table(comp)
    else:
        typer.echo(render.render(comp, fmt), nl=False)


@app.command("sweep")
def sweep(config: Path = typer.Argument(..., help="Run config YAML."),
          overrides: Optional[List[str]] = typer.Argument(None, help="Dotted overrides for every run: train.epochs=2"),
          grid: List[str] = typer.Option(..., "--grid", help="key=v1,v2 (repeatable): every combination is one run."),
          metric: str = typer.Option("micro_f1", help="Sort key of the final comparison.")):
    """Train every combination of the --grid values (one run directory each), then compare them."""
    try:
        from trainer.workflows.sweep import parse_grid, sweep as run_sweep
        result = run_sweep(config, parse_grid(grid), overrides or [], on_event=lambda m: typer.echo(m, err=True))
    except TrainerError as exc:
        _fail(exc)
    for run in result.failed:
        if run.traceback:   # an unexpected exception (a bug, not a user error): show where it happened
            typer.echo(run.traceback, err=True)
        typer.secho(f"FAILED {run.name}: {run.error}", fg=typer.colors.RED, err=True)
    if result.completed:
        try:
            from trainer.compare import compare as run_compare
            _print_comparison(run_compare([r.run_dir for r in result.completed], metric=metric), "table")
        except TrainerError as exc:
            typer.secho(f"cannot compare the runs: {exc}", fg=typer.colors.RED, err=True)
    typer.echo(f"{len(result.completed)} of {len(result.runs)} runs completed", err=True)
    raise typer.Exit(1 if result.failed else 0)


def main() -> None:
    try:
        app()
    except TrainerError as exc:  # a command that forgot to catch: still no traceback
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
