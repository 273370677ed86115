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
               overrides: Optional[List[str]] = typer.Argument(None, help="Dotted overrides: key.sub=value")):
    """Read raw articles, label them, deduplicate, split, and write a dataset directory."""
    try:
        from trainer.data.build import build_dataset
        from trainer.data.config import DataConfig
        from trainer.config import load_config
        result = build_dataset(load_config(config, DataConfig, overrides or []), config_path=config)
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
def validate(files: List[Path] = typer.Argument(..., help="Config files (data or run configs).")):
    """Check configs against the schema without running anything."""
    from trainer.config_check import validate_file
    failed = 0
    for path in files:
        try:
            kind = validate_file(path)
            typer.echo(f"ok    {path} ({kind} config)")
        except TrainerError as exc:
            failed += 1
            typer.secho(f"FAIL  {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    try:
        app()
    except TrainerError as exc:  # a command that forgot to catch: still no traceback
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
