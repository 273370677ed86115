"""Command line: thin typer wrappers that parse arguments and call importable functions.

Heavy libraries are imported inside each command so `trainer --help` stays fast.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from trainer import metric_names
from trainer.errors import TrainerError

app = typer.Typer(help="Build news datasets, train topic/region classifiers, evaluate, predict, serve, compare.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Build and inspect datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


VERBOSE_HELP = "Also show the libraries' own logs, warnings and progress bars (off by default)."


def _model_libraries(run_dir: Path) -> list[str]:
    """The libraries whose noise a command on this run should silence: transformers only for transformer runs
    (importing it just to silence it costs a second)."""
    from trainer import contracts
    from trainer.models.registry import model_class
    try:
        return list(model_class(contracts.read_spec(contracts.model_dir_of(run_dir)).model_type).libraries)
    except TrainerError:
        return ["datasets", "transformers"]   # the command itself reports the broken run


@data_app.command("build")
def data_build(config: Path = typer.Argument(..., help="Data config YAML."),
               overrides: Optional[List[str]] = typer.Argument(None, help="Dotted overrides: key.sub=value"),
               engine: Optional[str] = typer.Option(None, help="local | ray (same as build.engine=...); ray joins "
                                                               "$RAY_ADDRESS or starts a Ray in this process."),
               workers: Optional[int] = typer.Option(None, help="Ray tasks at once (same as build.workers=...)."),
               verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP)):
    """Read raw articles, label them, deduplicate, split, and write a dataset directory (a line per stage)."""
    stages = None
    try:
        from trainer.data.build import build_dataset
        from trainer.data.config import DataConfig
        from trainer.config import load_config
        from trainer.console.quiet import quiet_libraries
        from trainer.console.stages import StageLog
        extra = ([f"build.engine={engine}"] if engine else []) + ([f"build.workers={workers}"] if workers else [])
        stages = StageLog()
        cfg = load_config(config, DataConfig, (overrides or []) + extra, progress=stages)
        with quiet_libraries(["datasets"], enabled=not verbose):
            result = build_dataset(cfg, config_path=config, progress=stages)
    except TrainerError as exc:
        _fail(exc)
    finally:
        if stages is not None:
            stages.close()
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


@app.command("audit")
def audit(dataset_dir: Path = typer.Argument(..., help="Dataset directory from `trainer data build`."),
          config: Optional[Path] = typer.Argument(None, help="Run config whose task and model score the folds "
                                                             "(default: TF-IDF + linear SVM on the topic column)."),
          out: Path = typer.Option(..., "--out", help="Folder for label_issues.jsonl, duplicate_conflicts.jsonl, "
                                                     "audit.json, report.html."),
          folds: int = typer.Option(5, min=2, help="Folds of the training split (seeded, label-stratified)."),
          seed: int = typer.Option(13, help="Seed of the folds and the default model."),
          target: Optional[List[str]] = typer.Option(None, "--target", help="Label column to audit (repeat for "
                                                                            "several; default: the topic column)."),
          top: int = typer.Option(50, min=1, help="Suspects shown in report.html and the draft corrections."),
          verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP)):
    """Find suspected label errors (out-of-fold scores ranked by cleanlab) and conflicting duplicates in the
    training and validation splits; the test split is never read."""
    try:
        from trainer.audit import audit_dataset
        from trainer.config import RunConfig, load_config
        from trainer.console.quiet import quiet_libraries
        cfg = load_config(config, RunConfig) if config is not None else None
        libraries = ["datasets", "transformers"] if cfg is not None else ["datasets"]
        with quiet_libraries(libraries, enabled=not verbose):
            result = audit_dataset(dataset_dir, cfg, out, folds=folds, seed=seed, targets=target or None, top=top)
    except TrainerError as exc:
        _fail(exc)
    s = result.summary
    typer.echo(f"audited {', '.join(f'{k} {v}' for k, v in s['audited'].items())} documents in {s['seconds']} s "
               f"({folds} folds); suspected label errors: "
               + ", ".join(f"{t} {n}" for t, n in s["flagged"].items())
               + f"; conflicting duplicates: {s['conflicts']}")
    typer.echo(f"wrote {out}/ (label_issues.jsonl, report.html, corrections.suggested.yaml to review)")


@app.command("validate")
def validate(files: Optional[List[Path]] = typer.Argument(None, help="Config files (data or run configs)."),
             explain: Optional[str] = typer.Option(None, "--explain", metavar="KEY",
                                                   help="Describe a run-config or data-config key (e.g. "
                                                        "train.epochs, model, labels.topic.mapping) and exit.")):
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
          overrides: Optional[List[str]] = typer.Argument(None, help="Dotted overrides: train.epochs=2 model.max_length=128"),
          verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP + " The Trainer's own log dicts too; "
                                                                             "train_log.jsonl has them either way.")):
    """Fine-tune a classifier; write runs/<name>/ (model, metrics, logs, report.html) and print the metrics.

    Shows a progress bar and a table row per evaluation, then the metrics and the commands to go on with."""
    output = None
    try:
        from trainer.config import RunConfig, load_config
        from trainer.console.quiet import quiet_libraries
        from trainer.console.summary import summary_lines
        from trainer.console.training import TrainingOutput
        from trainer.models.registry import model_class
        from trainer.workflows.train import train as run_training
        output = TrainingOutput(verbose=verbose)   # the run's events: notices, stages, the training table
        cfg = load_config(config, RunConfig, overrides or [], progress=output)
        with quiet_libraries(list(model_class(cfg.model.type).libraries), enabled=not verbose):
            run_dir = run_training(cfg, config, progress=output.for_run(cfg), loop_output=verbose)
            output.close()
            lines = summary_lines(run_dir, cfg)
    except TrainerError as exc:
        _fail(exc)
    finally:
        if output is not None:
            output.close()   # a bar or spinner left running would garble the terminal
    for line in lines:
        typer.echo(line)


@app.command("evaluate")
def evaluate_command(run_dir: Path = typer.Argument(..., help="Run directory from `trainer train`."),
                     data: Optional[Path] = typer.Option(None, help="Dataset directory (default: config.yaml's data.dataset)."),
                     split: str = typer.Option("test", help="Split to evaluate; thresholds are tuned on validation."),
                     overrides: Optional[List[str]] = typer.Argument(None, help="eval.* overrides, e.g. eval.thresholds=global eval.chunking.enabled=true"),
                     verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP)):
    """Score validation and SPLIT; write metrics.json, predictions.jsonl, report.md, report.html (curves, per-label
    F1, precision-recall, confusions; per target), model/thresholds.json, and confusion.png for single-label targets."""
    stages = None
    try:
        from trainer.console.quiet import quiet_libraries
        from trainer.console.stages import StageLog
        from trainer.workflows.evaluate import evaluate_run
        from trainer.console.summary import evaluation_lines, shown_path
        stages = StageLog()
        with quiet_libraries(_model_libraries(run_dir), enabled=not verbose):
            metrics = evaluate_run(run_dir, data=data, split=split, overrides=overrides or [], progress=stages)
    except TrainerError as exc:
        _fail(exc)
    finally:
        if stages is not None:
            stages.close()
    from trainer import contracts
    scored = contracts.read_scored_dataset(run_dir) or {}
    if scored.get("same_as_training") is False:   # --data on another dataset: the numbers may count training docs
        typer.secho(f"note: scored on {scored['path']}, not the dataset the run was trained on "
                    f"({'; '.join(scored.get('changes') or [])}); metrics.json and report.md say so",
                    fg=typer.colors.YELLOW, err=True)
    for line in evaluation_lines(run_dir, metrics=metrics):
        typer.echo(line)
    typer.echo(f"wrote {shown_path(run_dir / 'metrics.json')}, predictions.jsonl, report.md, report.html "
               f"(open {shown_path(run_dir / 'report.html')})")


@app.command("predict")
def predict(run_dir: Path = typer.Argument(..., help="Run directory from `trainer train`."),
            files: Optional[List[str]] = typer.Argument(None, help="Raw article files (scraped text, HTML) or folders "
                                                        "(every file below one, read as `trainer data build` reads "
                                                        "source.path: hidden files, links out of it and other "
                                                        "entries are listed as not read); - reads one text from "
                                                        "stdin."),
            text: Optional[List[str]] = typer.Option(None, "--text", "-t", help="A text to label (repeatable)."),
            input_file: Optional[str] = typer.Option(None, "--input", help="JSONL with \"text\" or \"id\"+\"title\"+\"body\" per line; - for stdin."),
            output: Optional[Path] = typer.Option(None, "--output", help="Write JSON lines here instead of stdout."),
            fmt: str = typer.Option("auto", "--format", help="auto (a table at a terminal, JSON lines in a pipe), "
                                                             "table or jsonl."),
            kind: Optional[str] = typer.Option(None, help="Reader for FILES: scraped, html, jsonl, csv (default: detected)."),
            outlet: Optional[str] = typer.Option(None, help="The outlet of the scraped FILES, one the model's dataset "
                                                            "learned (its boilerplate lines are removed as in the "
                                                            "build); default: from the file's folder or content."),
            top_k: Optional[int] = typer.Option(None, "--top-k", help="At most K labels and the K best scores."),
            threshold: Optional[float] = typer.Option(None, help="One threshold for every label instead of the tuned ones."),
            quantize: str = typer.Option("none", help="none or int8 (dynamic int8 Linear layers, CPU)."),
            runtime: str = typer.Option("torch", help="torch, or onnx: the run's ONNX export (`trainer export`), "
                                                      "scored by ONNX Runtime without torch."),
            batch_size: int = typer.Option(32, "--batch-size", help="Texts per forward pass; also how many "
                                                                 "inputs are read and written at a time."),
            engine: str = typer.Option("local", "--engine", help="local, or ray: the same rows, scored on Ray Data "
                                                                 "(joins $RAY_ADDRESS, else starts Ray here)."),
            overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --output file."),
            restart: bool = typer.Option(False, "--restart", help="Start --output over instead of continuing the "
                                                                  "rows an interrupted run left in OUT.partial."),
            verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP)):
    """Predict labels for texts (--text), article files or JSONL: a table at a terminal, JSON lines
    {"id", "labels", "scores"} (per target for a model with several) in a pipe, with --output or --format jsonl.
    Inputs are read and rows written as they go; an interrupted --output run continues when rerun."""
    writer = None
    try:
        from trainer.serving.predictor import Predictor
        from trainer.serving.stream import Settings, local_rows, row_line, skip_rows, units
        from trainer.console.quiet import quiet_libraries
        from trainer.workflows.predict_inputs import expand_files
        from trainer.workflows.predict_output import ResumableOutput, fingerprint
        if fmt not in ("auto", "table", "jsonl"):
            raise TrainerError(f"--format {fmt!r}: use auto, table or jsonl")
        if engine not in ("local", "ray"):
            raise TrainerError(f"--engine {engine!r}: use local or ray")
        if (overwrite or restart) and output is None:
            raise TrainerError("--overwrite and --restart go with --output FILE")
        if not files and input_file is None and not text:
            raise TrainerError("nothing to predict: give --text \"...\", article FILES or folders, - for stdin, "
                               "or --input in.jsonl")
        files, not_read = expand_files(files or [])
        _check_runtime_options(quantize, runtime)
        if batch_size < 1:
            raise TrainerError(f"--batch-size {batch_size}: give at least 1")
        settings = Settings(kind=kind, outlet=outlet, top_k=top_k, threshold=threshold, batch_size=batch_size)
        load_options = {"quantize": quantize, "batch_size": batch_size, "runtime": runtime}
        table = output is None and (fmt == "table" or (fmt == "auto" and sys.stdout.isatty()))
        with quiet_libraries(_model_libraries(run_dir), enabled=not verbose):
            predictor = Predictor.load(run_dir, **load_options)
            stream = units(files, input_file, text or [], sys.stdin, not_read, batch_size,
                           jsonl_ranges=engine == "ray")
            drop = 0
            if output is not None:
                writer = ResumableOutput(output, fingerprint(run_dir, files, input_file, text or [], not_read,
                                                             {**vars(settings), **load_options}),
                                         overwrite=overwrite, restart=restart)
                done = writer.open()
                if done:
                    typer.echo(f"continuing {output}: {done} rows already written", err=True)
                    drop, stream = skip_rows(stream, predictor, settings, done)
            if engine == "ray":
                from trainer.serving.predict_ray import ray_rows
                batches = ray_rows(run_dir, load_options, stream, settings, drop=drop)
            else:
                batches = local_rows(predictor, stream, settings, drop=drop)
            records = []
            for rows in batches:
                if table:
                    records += rows
                elif writer is not None:
                    writer.write([row_line(row) for row in rows])
                else:
                    sys.stdout.write("".join(row_line(row) for row in rows))
                    sys.stdout.flush()
            if writer is not None:
                writer.finish()
    except TrainerError as exc:
        if writer is not None:
            writer.close()
        _fail(exc)
    if writer is not None:
        typer.echo(f"wrote {writer.rows} predictions to {output}", err=True)
    elif table:
        _print_predictions(records, predictor, text or [], top_k)


def _print_predictions(records: list[dict], predictor, texts: list[str], top_k: Optional[int]) -> None:
    from rich.console import Console
    from trainer.console.predict_table import TOP_SCORES, predict_table, snippet
    shown = []
    for record in records:
        rid = str(record.get("id", ""))
        if rid.startswith("text-") and rid[5:].isdigit() and int(rid[5:]) <= len(texts) and "path" not in record:
            shown.append(snippet(texts[int(rid[5:]) - 1]))
        elif record.get("path"):
            shown.append(f"{record['path']}" + (f"\n{snippet(record['title'])}" if record.get("title") else ""))
        else:
            shown.append(rid)
    targets = [(t.name, len(t.labels)) for t in predictor.targets]
    Console().print(predict_table(records, targets, shown, top=top_k or TOP_SCORES))


@app.command("serve")
def serve(run_dir: Path = typer.Argument(..., help="Run directory from `trainer train`."),
          host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 exposes the server to the network."),
          port: int = typer.Option(8000, help="TCP port (1-65535)."),
          quantize: str = typer.Option("none", help="none or int8 (dynamic int8 Linear layers, CPU)."),
          runtime: str = typer.Option("torch", help="torch, or onnx: the run's ONNX export (`trainer export`)."),
          batching: bool = typer.Option(True, "--batching/--no-batching",
                                        help="Score concurrent requests together (dynamic batching): on the 2-core "
                                             "reference machine 1.65x the requests/s of scoring each on its own, "
                                             "with a lower p99 (scripts/bench_serve.py)."),
          max_batch: int = typer.Option(64, "--max-batch", help="Most texts scored in one batch."),
          batch_wait_ms: float = typer.Option(2.0, "--batch-wait-ms",
                                              help="How long a batch waits for more requests once one arrives."),
          api_docs: bool = typer.Option(False, "--api-docs", help="Also serve /docs and /openapi.json (Swagger UI "
                                                                  "loads its scripts from a CDN).")):
    """Serve the run's model over HTTP: GET / (a page to label an article), POST /predict, POST /predict-file,
    GET /health, GET /labels. A port in use is reported before the model loads."""
    try:
        from trainer.serving.http import serve as run_server
        _check_runtime_options(quantize, runtime)
        if not 1 <= port <= 65535:
            raise TrainerError(f"--port {port}: give a TCP port from 1 to 65535")
        if not 1 <= max_batch <= 1024:
            raise TrainerError(f"--max-batch {max_batch}: give 1 to 1024 texts")
        if not 0 <= batch_wait_ms <= 1000:
            raise TrainerError(f"--batch-wait-ms {batch_wait_ms}: give 0 to 1000 milliseconds")
        batcher = {"max_batch": max_batch, "wait_ms": batch_wait_ms} if batching else None
        run_server(run_dir, host=host, port=port, api_docs=api_docs, batching=batcher, quantize=quantize,
                   runtime=runtime,
                   on_ready=lambda url: typer.echo(f"serving {run_dir} on {url}  (the page; POST {url}predict; "
                                                   "Ctrl+C stops)", err=True))
    except TrainerError as exc:
        _fail(exc)


@app.command("export")
def export(run_dir: Path = typer.Argument(..., help="Run directory from `trainer train` (or its model/)."),
           fmt: str = typer.Option("onnx", "--format", help="onnx (the only format so far)."),
           quantize: str = typer.Option("none", help="none, or int8: also write the dynamically quantized graph.")):
    """Write a portable copy of the model into model/onnx/ (ONNX Runtime scores it without torch), checked
    against the torch model on probe texts; predict/serve use it with --runtime onnx."""
    try:
        from trainer.contracts import read_export_info
        from trainer.models import export_model
        if fmt != "onnx":
            raise TrainerError(f"--format {fmt!r}: use onnx")
        if quantize not in ("none", "int8"):
            raise TrainerError(f"--quantize {quantize!r}: use none or int8")
        path = export_model(run_dir, fmt, quantize)
        variant = read_export_info(path.parent.parent, quantize).variants[quantize]
    except TrainerError as exc:
        _fail(exc)
    typer.echo(f"wrote {path} (max |logit diff| vs torch fp32 on probe texts: {variant['max_abs_logit_diff']:.2g}, "
               f"labels {'agree' if variant['probe_labels_agree'] else 'DIFFER'})")


def _check_runtime_options(quantize: str, runtime: str) -> None:
    if quantize not in ("none", "int8"):
        raise TrainerError(f"--quantize {quantize!r}: use none or int8")
    if runtime not in ("torch", "onnx"):
        raise TrainerError(f"--runtime {runtime!r}: use torch or onnx")


@app.command("compare")
def compare(run_dirs: List[Path] = typer.Argument(..., help="Run directories from `trainer train`."),
            baseline: Optional[Path] = typer.Option(None, help="Run to compare against: metric delta with a paired-bootstrap 95% CI."),
            metric: str = typer.Option("micro_f1", help=f"{', '.join(metric_names.SELECTABLE)}: the sort key and the delta."),
            fmt: str = typer.Option("table", "--format", help="table (terminal), md, csv or html."),
            plot: Optional[Path] = typer.Option(None, help="Also write a PNG: each run (labelled with the settings that "
                                                           "differ) with its metrics and intervals, and deltas "
                                                           "against --baseline."),
            plot_metric: Optional[List[str]] = typer.Option(None, "--plot-metric", help="A metric the plot shows "
                                                            "(repeatable; default: --metric and the other F1)."),
            resamples: int = typer.Option(1000, help="Bootstrap resamples (0: no intervals)."),
            seed: int = typer.Option(0, help="Bootstrap seed."),
            target: Optional[str] = typer.Option(None, help="Target to compare (default: the first run's first).")):
    """One row per run: config keys that differ, test metrics, costs; deltas against --baseline."""
    try:
        from trainer.compare import compare as run_compare
        from trainer.compare import render
        if fmt not in render.FORMATS:
            raise TrainerError(f"--format {fmt!r}: use one of {', '.join(render.FORMATS)}")
        from trainer.compare import METRIC_COLUMNS
        for name in plot_metric or []:
            if name not in METRIC_COLUMNS:
                raise TrainerError(f"--plot-metric {name!r}: use one of {', '.join(METRIC_COLUMNS)}")
        comp = run_compare(run_dirs, baseline=baseline, metric=metric, n_resamples=resamples, seed=seed,
                           target=target)
        if plot is not None:
            render.write_plot(comp, plot, plot_metric or None)
    except TrainerError as exc:
        _fail(exc)
    _print_comparison(comp, fmt)
    if plot is not None:
        typer.echo(f"wrote {plot}", err=True)


def _print_comparison(comp, fmt: str) -> None:
    if fmt == "table":
        from trainer.console.compare_table import print_table
        print_table(comp)
    else:
        from trainer.compare import render
        typer.echo(render.render(comp, fmt), nl=False)


@app.command("sweep")
def sweep(config: Path = typer.Argument(..., help="Run config YAML."),
          overrides: Optional[List[str]] = typer.Argument(None, help="Dotted overrides for every run: train.epochs=2"),
          grid: List[str] = typer.Option(..., "--grid", help="key=v1,v2 (repeatable): every combination is one run."),
          metric: str = typer.Option("micro_f1", help="Sort key of the final comparison."),
          verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP)):
    """Train every combination of the --grid values (one run directory each), then compare them."""
    output = None
    try:
        from trainer.console.quiet import quiet_libraries
        from trainer.console.training import TrainingOutput
        from trainer.workflows import train as lifecycle
        from trainer.workflows.sweep import parse_grid, sweep as run_sweep
        output = TrainingOutput(verbose=verbose)

        def train_one(cfg, config_path):
            try:
                return lifecycle.train(cfg, config_path, progress=output.for_run(cfg), loop_output=verbose)
            finally:
                output.close()
        with quiet_libraries(["datasets", "transformers"], enabled=not verbose):
            result = run_sweep(config, parse_grid(grid), overrides or [], train_fn=train_one,
                               on_event=lambda m: typer.echo(m, err=True))
    except TrainerError as exc:
        _fail(exc)
    finally:
        if output is not None:
            output.close()
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
