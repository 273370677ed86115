"""Shared fixtures. Real-data fixtures skip with a reason when no data mirror is configured, and fail
when $TRAINER_DATA_MIRROR is set but lacks the data (see missing_data)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]   # tests/test_fixtures_mirror.py runs the fixtures in a pytest of its own


def pytest_configure(config):
    """Under pytest-xdist, each worker keeps to a core of its own. Torch (and the processes a test starts, which
    inherit the mask) size their threads from the cores this process may use (trainer.hardware.cores_available):
    two workers training at two threads each on two cores slowed each other several-fold."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if count <= 1 or len(cores) < count:
        return
    share = len(cores) // count
    index = int(worker[2:])
    os.sched_setaffinity(0, cores[index * share:(index + 1) * share])

REPO = Path(__file__).resolve().parents[1]
# Fixtures that train a model, start a server or read the real corpus: a test using one (directly or
# through another fixture) is an integration test. `make test-unit` leaves those out for an inner loop.
# A unit test that trains anyway fails (see pytest_runtest_setup below), naming this list.
INTEGRATION_FIXTURES = {"tiny_run_dir", "tiny_single_label_run_dir", "reuters_archive", "scraped_sample_dir",
                        "minilm_dir",
                        # module fixtures of single test files that train
                        "windows_run", "ensemble_run"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def _is_unit(item) -> bool:
    return item.get_closest_marker("integration") is None and item.get_closest_marker("slow") is None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """A unit test (and the fixtures it sets up) must not train: `make test-unit` promises no training runs.
    Every fit goes through FitContext, so constructing one is refused there."""
    with _no_training(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    with _no_training(item):
        yield


class _no_training:   # noqa: N801 - used as a with-statement
    def __init__(self, item):
        self.item = item

    def __enter__(self):
        self.original = None
        if not _is_unit(self.item):
            return
        from trainer.models import base
        self.original, nodeid = base.FitContext.__init__, self.item.nodeid

        def refuse(ctx, *args, **kwargs):
            pytest.fail(f"{nodeid} trains a model but is not an integration test: mark it "
                        "@pytest.mark.integration, or add the fixture that trains to INTEGRATION_FIXTURES "
                        "(tests/conftest.py)", pytrace=False)
        base.FitContext.__init__ = refuse

    def __exit__(self, *exc):
        if self.original is not None:
            from trainer.models import base
            base.FitContext.__init__ = self.original


# ---- nothing a test writes lands in the checkout ----
def _checkout_state() -> set[str] | None:
    """`git status` lines of the checkout (untracked, changed and ignored paths, caches left out); None where
    this is not a git checkout (a copy of this conftest under pytester, an sdist)."""
    import subprocess
    try:
        top = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=30)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != REPO:
            return None
        done = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--ignored"], capture_output=True,
                              text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    caches = ("__pycache__/", ".pytest_cache/", ".import_linter_cache/", ".hypothesis/", ".venv/", ".egg-info/")
    return {line for line in done.stdout.splitlines() if not any(c in line for c in caches)}


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):   # the controller, not an xdist worker
        session.config._checkout_before = _checkout_state()


NO_SKIPS_ENV = "TRAINER_NO_SKIPS"   # .ci/run sets it for the slow checks: a skip there would hide a missing tool


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get(NO_SKIPS_ENV) and not hasattr(session.config, "workerinput"):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        skipped = [r.nodeid for r in (reporter.stats.get("skipped", []) if reporter else [])]
        if skipped:
            session.config.get_terminal_writer().line(
                f"\n{NO_SKIPS_ENV} is set and {len(skipped)} tests skipped (see the reasons above): "
                + ", ".join(skipped), red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    before = getattr(session.config, "_checkout_before", None)
    if before is None:
        return
    new = sorted((_checkout_state() or set()) - before)
    if new:
        session.config.get_terminal_writer().line(
            "\ntests wrote into the checkout (write under tmp_path instead): " + "; ".join(new), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


MIRROR_ENV = "TRAINER_DATA_MIRROR"


def find_mirror(environ=os.environ, fallback: Path = REPO.parent / "shared" / "data") -> Path | None:
    """The data mirror: $TRAINER_DATA_MIRROR when set (no fallback then: a wrong value must show),
    else the shared folder beside the checkout; None when there is none."""
    env = environ.get(MIRROR_ENV)
    if env:
        return Path(env) if Path(env).is_dir() else None
    return fallback if fallback.is_dir() else None


def missing_data(reason: str, environ=os.environ) -> None:
    """A real-data test without its data: skipped where no mirror is configured, failed where
    $TRAINER_DATA_MIRROR is set (CI sets it, and a skip there would hide a broken mirror lookup)."""
    if environ.get(MIRROR_ENV):
        pytest.fail(f"{reason} ({MIRROR_ENV}={environ[MIRROR_ENV]} is set, so the data must be there)",
                    pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    d = find_mirror()
    if d is None:
        missing_data(f"data mirror absent: set {MIRROR_ENV} to a folder holding reuters21578.tar.gz")
    return d


@pytest.fixture(scope="session")
def reuters_archive(mirror_dir) -> Path:
    p = mirror_dir / "reuters21578.tar.gz"
    if not p.is_file():
        missing_data(f"{p} absent: the Reuters-21578 archive is needed for this test")
    return p


@pytest.fixture(scope="session")
def scraped_sample_dir(mirror_dir) -> Path:
    d = mirror_dir / "samples" / "scraped"
    if not d.is_dir() or not any(d.iterdir()):
        missing_data(f"{d} absent: the shared scraped sample page is needed for this test")
    return d


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from trainer.models.transformer.pretrained import resolve_model_path
    return Path(resolve_model_path("minilm-l6"))


# ---- tiny synthetic dataset and a trained tiny run (fast; shared by training/evaluation/predict tests) ----
TINY_TOPICS = {
    "earn": ["net profit rose", "quarterly earnings", "dividend per share", "revenue climbed", "record income"],
    "grain": ["wheat harvest", "corn exports", "grain shipments", "soybean crop", "bushels of barley"],
    "crude": ["oil prices", "barrels per day", "opec output", "crude refinery", "petroleum supply"],
    "trade": ["trade deficit", "import tariffs", "export surplus", "trade talks", "customs duties"],
}
TINY_REGIONS = {"Western Europe": ["Paris", "Berlin"], "Eastern Asia": ["Tokyo", "Beijing"],
                "Northern America": ["New York", "Chicago"]}   # UN M49 subregions, as the region labeller names them
FILLER = "the company said on monday that officials expect further changes later this year".split()


def make_tiny_dataset(path: Path, n: int = 60, seed: int = 0,
                      labels: tuple[str, ...] = ("topics", "topic", "regions")) -> Path:
    """~60 news-like texts whose topics/regions are given away by keywords, saved in the dataset contract.
    `labels`: the label columns written (a build writes topics or topic, not both; the default has all three)."""
    import json
    import random

    import datasets

    rng = random.Random(seed)
    topics, regions = sorted(TINY_TOPICS), sorted(TINY_REGIONS)
    rows = []
    for i in range(n):
        doc_topics = sorted(rng.sample(topics, 2 if i % 5 == 0 else 1))
        region = regions[i % len(regions)]
        place = rng.choice(TINY_REGIONS[region])
        phrases = [rng.choice(TINY_TOPICS[t]) for t in doc_topics for _ in range(2)]
        words = [w for p in phrases for w in (p.split() + rng.sample(FILLER, 3))]
        title = f"{place}: {phrases[0]}"
        rows.append({"id": f"tiny-{i}", "title": title, "text": f"{title}\n\n{' '.join(words)} in {place}.",
                     "topics": doc_topics, "topic": doc_topics[0], "regions": [region],
                     "published": f"2024-01-{1 + i % 28:02d}", "source": "tiny"})
    rows = [{k: v for k, v in row.items() if k not in {"topics", "topic", "regions"} - set(labels)} for row in rows]
    cut = {"train": rows[:40], "validation": rows[40:50], "test": rows[50:]}
    dsd = datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in cut.items()})
    dsd.save_to_disk(str(path))
    manifest = {"format": "trainer-dataset/1", "config": {"source": {"kind": "synthetic"}}, "counts": {k: len(v) for k, v in cut.items()},
                "columns": list(rows[0]),
                "labels": {k: v for k, v in {"topics": topics, "topic": topics, "regions": regions}.items()
                           if k in labels},
                "accounting": {"read": n, "kept": n, "rejected": 0, "deduplicated": 0}}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory) -> Path:
    """A small DatasetDict (40/10/10) in the dataset-directory contract; treat it as read-only."""
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny-data") / "dataset")


def tiny_run_tree(dataset_dir: Path, out_dir: Path, name: str = "tiny") -> dict:
    """Run-config mapping for a tiny random-init BERT (2 layers, hidden 32) with the MiniLM tokenizer."""
    return {"data": {"dataset": str(dataset_dir)},
            "model": {"name": "minilm-l6", "init": "random", "max_length": 64,
                      "config_overrides": {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2,
                                           "intermediate_size": 64}},
            "train": {"epochs": 10, "batch_size": 8, "learning_rate": 3e-3, "logging_steps": 5, "threads": 1,
                      "precision": "fp32", "early_stopping_patience": None},
            # 10 validation documents: below the default eval.threshold_min_documents, which would keep 0.5;
            # the tiny runs are there to exercise tuning
            "eval": {"threshold_min_documents": 5},
            "output": {"dir": str(out_dir), "name": name}}


@pytest.fixture(scope="session")
def tiny_run_dir(tiny_dataset_dir, tmp_path_factory) -> Path:
    """A completed tiny training run (model/, metrics.json, ...); treat it as read-only."""
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path_factory.mktemp("tiny-runs"))
    return train(load_config(None, RunConfig, tree=tree))


def tiny_teacher_run(dataset_dir: Path, task: dict) -> Path:
    """A TF-IDF run on the tiny dataset with `task` (a task section), trained once per task beside the dataset
    (teachers of student runs: seconds to train, and the same for every test of the session)."""
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    name = "teacher-" + "-".join(f"{k}-{v}" for k, v in sorted(task.items()))
    out = Path(dataset_dir).parent / "teachers"
    if (out / name / "model").is_dir():
        return out / name
    tree = tiny_run_tree(dataset_dir, out, name)
    tree["model"], tree["task"] = {"type": "tfidf-linear", "tfidf": {"min_df": 1}}, dict(task)
    return train(load_config(None, RunConfig, tree=tree))


@pytest.fixture(scope="session")
def tiny_single_label_run_dir(tiny_dataset_dir, tmp_path_factory) -> Path:
    """Like tiny_run_dir, single-label (target `topic`); treat it as read-only."""
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path_factory.mktemp("tiny-runs-single"), name="tiny-single")
    tree["task"] = {"target": "topic", "problem": "single_label"}
    return train(load_config(None, RunConfig, tree=tree))


# ---- hand-written run directories (fast; for compare / sweep / tracking tests) ----
def write_run_dir(path: Path, config: dict | None = None, predictions: list[dict] | None = None,
                  metrics: dict | None = None, meta: dict | None = None, labels: list[str] | None = None) -> Path:
    """A run directory in the contract (docs/contracts.md) from given parts, in the files' format 1 (one
    target, read as `topics`); `config` is merged over a minimal valid tfidf-linear run config, `labels` go
    to model/trainer.json."""
    import json

    import yaml

    from trainer.config.loader import deep_merge
    path.mkdir(parents=True, exist_ok=True)
    tree = deep_merge({"data": {"dataset": "data/processed/tiny"}, "model": {"type": "tfidf-linear"},
                       "output": {"name": path.name}}, config or {})
    (path / "config.yaml").write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    (path / "meta.json").write_text(json.dumps(meta or {"status": "completed"}), encoding="utf-8")
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    if predictions is not None:
        (path / "predictions.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions), encoding="utf-8")
    if labels is not None:
        (path / "model").mkdir(exist_ok=True)
        spec = {"model_type": "tfidf-linear", "labels": labels, "problem": "multi_label", "target": "topics"}
        (path / "model" / "trainer.json").write_text(json.dumps(spec), encoding="utf-8")
    return path


@pytest.fixture
def make_run_dir(tmp_path):
    """Factory: make_run_dir("name", config=..., predictions=..., metrics=..., meta=..., labels=...) -> Path."""
    def make(name: str, **parts) -> Path:
        return write_run_dir(tmp_path / "runs" / name, **parts)
    return make


# ---- a two-target model by hand: keyword scores, real Predictor (fast; for the console, page and report) ----
def _keyword_model_class():
    from trainer.models.base import Model

    class KeywordModel(Model):
        """Scores texts per target by keywords: a Model for Predictor, serve and the page, without training."""
        type = "keyword"

        def __init__(self, spec):
            self.spec = spec

        @classmethod
        def fit(cls, ctx):
            raise NotImplementedError

        @classmethod
        def load(cls, model_dir, spec, options):
            return cls(spec)

        def save_weights(self, model_dir):
            pass

        @property
        def num_parameters(self):
            return 0

        def score_targets(self, texts, chunking=None):
            return _keyword_scores(self.spec, texts)
    return KeywordModel


def KeywordModel(spec):   # noqa: N802 - reads as the class it builds (the base class imports torch-free trainer.models)
    return _keyword_model_class()(spec)


def _keyword_scores(spec, texts):
    import numpy as np
    out = {}
    for target in spec.targets:
        words = TINY_TOPICS if target.name == "topics" else TINY_REGIONS
        rows = []
        for text in texts:
            hits = [sum(w.lower() in text.lower() for w in words[label]) for label in target.labels]
            rows.append([min(0.95, 0.05 + 0.45 * h) for h in hits])
        out[target.name] = np.asarray(rows, dtype=float).reshape(len(texts), len(target.labels))
    return out


@pytest.fixture
def two_target_predictor(tmp_path):
    """A Predictor over a hand-made model with targets topics (multi-label) and regions (multi-label), in a run
    directory named `two-targets` (model/trainer.json written as format 2)."""
    from trainer.contracts import ModelSpec, Target, default_thresholds, write_spec
    from trainer.serving.predictor import Predictor
    spec = ModelSpec("keyword", [Target("topics", "multi_label", tuple(sorted(TINY_TOPICS))),
                                 Target("regions", "multi_label", tuple(sorted(TINY_REGIONS)))])
    model_dir = tmp_path / "two-targets" / "model"
    model_dir.mkdir(parents=True)
    write_spec(model_dir, spec)
    return Predictor(KeywordModel(spec), default_thresholds(spec), model_dir)
