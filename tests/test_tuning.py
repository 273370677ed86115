"""Tuning on the run's own training split (trainer.tuning): `weight: auto`, `eval.thresholds: auto`.

Unit tests pick from planted out-of-fold scores (no training); the integration tests cross-fit tiny models and
check that test documents are never read and that the picks reach model/ and the evaluation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import make_tiny_dataset, tiny_run_tree
from trainer import contracts
from trainer.config import RunConfig, load_config
from trainer.errors import ConfigError
from trainer.tuning.search import weight_grid

LINEAR = {"type": "tfidf-linear", "tfidf": {"min_df": 1}}


def _tree(dataset_dir, out_dir, name="tuned", **members_weight):
    tree = tiny_run_tree(dataset_dir, out_dir, name)
    tree["model"] = {"type": "ensemble", "members": {
        "encoder": {"model": tiny_run_tree("u", "u")["model"], "weight": "auto"},
        "linear": {"model": LINEAR, "train": {"class_weights": "balanced"}, "weight": "auto"}}}
    tree["eval"]["thresholds"] = "auto"
    tree["tune"] = {"stand_in": {"train.epochs": 3}}
    return tree


# ---- config ----------------------------------------------------------------------------------------------
def test_weight_auto_on_some_members_only_is_refused(tmp_path):
    tree = _tree("d", tmp_path)
    tree["model"]["members"]["linear"]["weight"] = 0.7
    with pytest.raises(ConfigError, match="weight auto on encoder but not on linear"):
        load_config(None, RunConfig, tree=tree)


def test_bucket_thresholds_fix_buckets_under_auto_and_stand_in_keys_are_checked(tmp_path):
    tree = _tree("d", tmp_path)
    tree["eval"]["bucket_thresholds"] = {"<5": 0.3}
    assert load_config(None, RunConfig, tree=tree).eval.bucket_thresholds == {"<5": 0.3}
    tree["tune"]["stand_in"] = {"epochs": 3}
    with pytest.raises(ConfigError, match="tune.stand_in: keys must be dotted model.. or train.. keys"):
        load_config(None, RunConfig, tree=tree)


def test_a_stand_in_the_member_cannot_take_is_refused_before_the_run(tmp_path):
    from trainer import tuning
    tree = _tree("d", tmp_path)
    tree["tune"]["stand_in"] = {"model.max_length": 4}
    with pytest.raises(ConfigError, match="tune.stand_in: cannot apply .* to encoder"):
        tuning.check(load_config(None, RunConfig, tree=tree))


def test_a_member_from_a_trained_run_cannot_be_tuned(tmp_path):
    from trainer import tuning
    tree = _tree("d", tmp_path)
    run = tmp_path / "earlier"
    run.mkdir()
    tree["model"]["members"]["encoder"] = {"run": str(run), "weight": "auto"}
    with pytest.raises(ConfigError, match="model.members.encoder.run: a trained run cannot be fitted again"):
        tuning.check(load_config(None, RunConfig, tree=tree))


def test_tuning_under_several_processes_is_refused(tmp_path, monkeypatch):
    from trainer import tuning
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="tuned in one process"):
        tuning.check(load_config(None, RunConfig, tree=_tree("d", tmp_path)))


def test_weight_grid_is_the_simplex_equal_weights_first():
    grid = weight_grid(["a", "b"])
    assert len(grid) == 11 and grid[0] == {"a": 0.5, "b": 0.5}
    assert all(abs(sum(w.values()) - 1) < 1e-9 for w in weight_grid(["a", "b", "c"]))
    assert len(weight_grid(["a", "b", "c"])) == 66


# ---- picks from planted out-of-fold scores (no training) -------------------------------------------------
def _planted(tmp_path):
    """A training split of 400 documents, 3 labels: "big" (200 documents: bucket >=100), "mid" (40: 20-99), "rare"
    (8: 5-19). Member "good" scores the positives of big/mid at 0.55 (negatives 0.45) and of rare at 0.32
    (negatives 0.28): of the candidates only 0.3 separates the rare ones, planted. Member "bad" scores every
    positive 0 and every negative 1: any weight on it turns some decisions."""
    import datasets

    from trainer.data.label_space import label_space
    from trainer.models import FitData
    rng = np.random.default_rng(0)
    n = 400
    gold = [[] for _ in range(n)]
    for label, count in (("big", 200), ("mid", 40), ("rare", 8)):
        for i in rng.choice(n, count, replace=False):
            gold[i].append(label)
    gold = [sorted(g) or ["big"] for g in gold]   # every document has a label (at-least-one on)
    train = datasets.Dataset.from_dict({"id": [f"d{i}" for i in range(n)], "text": ["x"] * n, "topics": gold})
    space = label_space(train, "topics", "multi_label", 1)
    labels = space.labels
    truth = np.array([[label in g for label in labels] for g in gold])
    good = np.where(truth, 0.55, 0.45).astype(np.float32)
    rare = labels.index("rare")
    good[:, rare] = np.where(truth[:, rare], 0.32, 0.28)
    bad = np.where(truth, 0.0, 1.0).astype(np.float32)
    tree = _tree("d", tmp_path)
    tree["model"]["members"] = {"good": {"model": LINEAR, "weight": "auto"}, "bad": {"model": LINEAR, "weight": "auto"}}
    cfg = load_config(None, RunConfig, tree=tree)
    data = FitData(tmp_path, datasets.DatasetDict({"train": train}), [space])
    from trainer.tuning.crossfit import OutOfFold
    return cfg, data, OutOfFold({"good": {"own": {"topics": good}}, "bad": {"own": {"topics": bad}}},
                                {"topics": space.as_target()}), labels


def test_pick_gives_the_bad_member_no_weight_and_finds_the_planted_rare_threshold(tmp_path):
    from trainer.tuning.crossfit import pick
    cfg, data, oof, labels = _planted(tmp_path)
    tuned = pick(cfg, data, oof, list(range(400)), "micro_f1")
    assert tuned.weights == {"good": 1.0, "bad": 0.0}
    assert tuned.thresholds["topics"]["5-19"] == 0.3          # planted
    assert tuned.thresholds["topics"]["20-99"] == tuned.thresholds["topics"][">=100"] == 0.5   # ties: nearest 0.5
    record = tuned.record
    assert record["weights"]["picked"] == tuned.weights and len(record["tried"]) == 11
    assert max(t["score"] for t in record["tried"]) == record["score"] == 1.0
    assert record["thresholds"]["topics"]["picked"] == tuned.thresholds["topics"]
    # the picks reach the final fit's config; the config itself keeps `auto`
    fit_cfg = tuned.fit_config(cfg)
    assert {n: m.weight for n, m in fit_cfg.model.members.items()} == {"good": 1.0, "bad": 0.0}
    assert cfg.model.members["good"].weight == "auto"


def test_pick_scores_only_the_held_out_documents(tmp_path):
    # documents outside `held` (fitted on) carry scores that would pick the bad member: they must not count
    from trainer.tuning.crossfit import pick
    cfg, data, oof, labels = _planted(tmp_path)
    held = list(range(200))
    oof.scores["good"]["own"]["topics"][200:] = 1 - oof.scores["good"]["own"]["topics"][200:]
    assert pick(cfg, data, oof, held, "micro_f1").weights == {"good": 1.0, "bad": 0.0}


# ---- what validation alone would pick (report.md, report.html) ---------------------------------------------
class _Part:
    """A fitted part that scores validation as planted: per reading (None: its own; else the reading's pool or
    mode), one score matrix; counts the passes."""
    def __init__(self, by_reading):
        self.by_reading, self.passes = by_reading, []

    def score_targets(self, texts, how=None):
        key = None if how is None else (how.pool if how.mode == "windows" else how.mode)
        self.passes.append(key)
        return {"topics": self.by_reading[key]}


def _validation(n=40):
    import datasets
    gold = [["big"] if i % 2 else ["mid"] for i in range(n)]
    return datasets.Dataset.from_dict({"id": [f"v{i}" for i in range(n)], "text": ["x"] * n, "topics": gold}), gold


def _planted_validation(tmp_path, gold, labels):
    # right: 0.55 on the gold labels, 0.45 elsewhere; wrong: 0 and 1. Any weight on wrong above 0.1 turns some
    # decisions (a mean of the two separates the labels only with all the weight on right)
    truth = np.array([[label in g for label in labels] for g in gold])
    return np.where(truth, 0.55, 0.45).astype(np.float32), np.where(truth, 0.0, 1.0).astype(np.float32)


def test_validation_pick_of_the_weights_scores_each_member_once_and_reuses_it_for_every_weight(tmp_path):
    from types import SimpleNamespace as NS
    from trainer.evaluation.tuning_report import tuning_lines
    from trainer.evaluation.validation_pick import validation_pick
    cfg, data, oof, labels = _planted(tmp_path)
    validation, gold = _validation()
    right, wrong = _planted_validation(tmp_path, gold, labels)
    # the cross-fitted pick trusts "good"; on validation "bad" is the one that is right
    members = {"good": _Part({None: wrong}), "bad": _Part({None: right})}
    model = NS(members=members, spec=NS(targets=[data.spaces[0].as_target()], settings={}))
    record = {"settings": {"metric": "micro_f1"}, "weights": {"picked": {"good": 1.0, "bad": 0.0}}, "readings": None,
              "tried": [{"weights": w, "readings": {"good": "own", "bad": "own"}} for w in weight_grid(["good", "bad"])]}
    alone = validation_pick(cfg, model, record, validation, data.splits["train"], cfg.eval)
    assert alone["weights"] == {"good": 0.0, "bad": 1.0} and alone["score"] == 1.0 and alone["crossfit_score"] < 0.5
    assert alone["documents"] == 40 and alone["metric"] == "micro_f1"
    assert members["good"].passes == members["bad"].passes == [None]   # 11 weight candidates, one pass each
    full = {**record, "cut": {"held_out_documents": 100, "train_documents": 400}, "parts": {}}
    lines = tuning_lines(full, "topics", {"test": {}}, "test", None, alone)
    assert "- member weights: good 1.0, bad 0.0; validation alone would pick good 0.0, bad 1.0" in lines
    assert any(line.startswith("  - on validation (40 documents, micro_f1") and "validation's own 1.0000" in line
               for line in lines)
    assert validation_pick(cfg, model, {**record, "weights": None}, validation, data.splits["train"], cfg.eval) is None


def test_validation_pick_of_the_reading_scores_validation_once_per_reading(tmp_path):
    from types import SimpleNamespace as NS
    from trainer.evaluation.tuning_report import tuning_lines
    from trainer.evaluation.validation_pick import validation_pick
    _, data, _, labels = _planted(tmp_path)
    tree = _tree("d", tmp_path)
    tree["model"] = {**tiny_run_tree("u", "u")["model"], "reading": {"mode": "auto"}}
    cfg = load_config(None, RunConfig, tree=tree)
    validation, gold = _validation()
    right, wrong = _planted_validation(tmp_path, gold, labels)
    part = _Part({"truncate": wrong, "max": wrong, "mean": wrong, "attention": right})
    part.spec = NS(targets=[data.spaces[0].as_target()], settings={})
    readings = ["truncate", "windows-max", "windows-mean", "windows-attention"]
    record = {"settings": {"metric": "micro_f1"}, "weights": None,
              "readings": {"model": {"picked": "windows-mean", "candidates": readings}},
              "tried": [{"weights": None, "readings": {"model": r}} for r in readings]}
    alone = validation_pick(cfg, part, record, validation, data.splits["train"], cfg.eval)
    assert alone["readings"] == {"model": "windows-attention"} and alone["weights"] is None
    assert sorted(part.passes) == ["attention", "max", "mean", "truncate"]   # once per reading
    lines = tuning_lines({**record, "parts": {}}, "topics", {"test": {}}, "test", None, alone)
    assert any(line.startswith("- reading of model: windows-mean") and
               line.endswith("validation alone would pick windows-attention") for line in lines)


def test_report_html_has_the_tuned_block_with_the_same_picks():
    from trainer.evaluation.html_report import ReportPage, TargetPage, render_html
    lines = ["Settings written `auto` were picked on out-of-fold scores.",
             "- member weights: a 0.7, b 0.3; validation alone would pick a 0.2, b 0.8",
             "  - on validation (40 documents, micro_f1, thresholds tuned there): the cross-fitted picks 0.5",
             "- bucket thresholds: >=100 0.40"]
    page = render_html(ReportPage("r", "ensemble", "d", "test", {"test": 1},
                                  [TargetPage("topics", "multi_label", [], tuning=lines)]))
    block = page.split("<h3>Tuned on the training split</h3>")[1].split("</section>")[0]
    assert "Settings written <code>auto</code>" in block
    assert "<li>member weights: a 0.7, b 0.3; validation alone would pick a 0.2, b 0.8<ul><li>on validation" in block
    assert "<li>bucket thresholds: &gt;=100 0.40</li>" in block
    assert "Tuned on the training split" not in render_html(
        ReportPage("r", "ensemble", "d", "test", {"test": 1}, [TargetPage("topics", "multi_label", [])]))


# ---- cross-fitting tiny models ---------------------------------------------------------------------------
class _Poison:
    """A split that fails the test when anything reads it."""
    def __getattr__(self, name):
        pytest.fail(f"tuning read the test split ({name})")

    def __getitem__(self, key):
        pytest.fail(f"tuning read the test split ([{key!r}])")

    def __len__(self):
        pytest.fail("tuning read the test split (len)")


@pytest.mark.integration
def test_tuning_never_reads_test_documents_and_fits_parts_on_the_cut_only(tmp_path, monkeypatch):
    from trainer import tuning
    from trainer.models import base
    from trainer.training.data import load_fit_data
    dataset = make_tiny_dataset(tmp_path / "data", n=80)
    cfg = load_config(None, RunConfig, tree=_tree(dataset, tmp_path / "runs"))
    data = load_fit_data(cfg)
    train_ids = set(data.splits["train"]["id"])
    data.splits = {"train": data.splits["train"], "validation": data.splits["validation"], "test": _Poison()}
    seen = []
    original = base.FitContext.__init__

    def spy(ctx, *args, **kwargs):
        original(ctx, *args, **kwargs)
        seen.append((set(ctx.data.splits), set(ctx.data.splits["train"]["id"]), ctx.cfg))
    monkeypatch.setattr(base.FitContext, "__init__", spy)
    events = []
    tuned = tuning.tune(cfg, data, tmp_path / "work", progress=events.append)
    said = [e["message"] for e in events if e.get("event") == "notice"]
    # the extra cost is stated before anything is fitted: the cut, and each part's share of its final fit
    # (the encoder's stand-in: 3 of 10 epochs on 30 of 40 documents)
    assert said[0] == ("tuning: 1 cut, 10 of 40 training documents held out; parts fitted on 30 documents in all "
                       "(stand-in {'train.epochs': 3}): encoder about 0.23x its final fit, linear 0.75x")
    # ... and once tuned, before the final fit, what was picked (the same as tuning.json's record)
    weights = ", ".join(f"{n} {w:g}" for n, w in tuned.weights.items())
    thresholds = ", ".join(f"{b} {v:.2f}" for b, v in tuned.thresholds["topics"].items())
    assert len(said) == 2 and said[1].startswith(f"tuning: picked weights {weights}; topics thresholds {thresholds} "
                                                 f"(out-of-fold {tuned.record['metric']} {tuned.record['score']:.4f}, "
                                                 f"{len(tuned.record['tried'])} candidates, ")
    assert len(seen) == 2   # one fit per member on the one cut
    for splits, ids, part_cfg in seen:
        assert splits == {"train", "validation"} and ids < train_ids and len(ids) == 30
    # the transformer member was fitted with the stand-in, the linear one as configured
    assert sorted(c.train.epochs for _, _, c in seen) == [3, 10]
    assert not (tmp_path / "work").exists()   # the cut's checkpoints are removed
    assert set(tuned.weights) == {"encoder", "linear"} and abs(sum(tuned.weights.values()) - 1) < 1e-9
    assert set(tuned.thresholds) == {"topics"}


@pytest.mark.integration
def test_a_tuned_run_saves_tuning_json_and_evaluates_with_the_picks(tmp_path):
    from trainer.workflows.train import train
    dataset = make_tiny_dataset(tmp_path / "data", n=80)
    run = train(load_config(None, RunConfig, tree=_tree(dataset, tmp_path / "runs")))
    record = contracts.read_tuning(run / "model")
    picked = record["weights"]["picked"]
    spec = json.loads((run / "model" / contracts.SPEC).read_text())
    assert {m["name"]: m["weight"] for m in spec["members"]} == picked
    assert contracts.read_run_config(run).model.members["encoder"].weight == "auto"   # config.yaml keeps auto
    saved = contracts.read_thresholds(run / "model", contracts.read_spec(run / "model"))["topics"]
    assert saved.kind == "per_bucket" and saved.groups == record["thresholds"]["topics"]["picked"]
    metrics = contracts.read_metrics(run)["topics"]
    for split in ("validation", "test"):   # what validation alone would have picked, beside the pick
        assert set(metrics[split]["validation_pick"]["thresholds"]) == set(saved.groups)
    assert record["cut"]["held_out_documents"] == 10 and record["seconds"]["fit"] > 0
    assert not (run / contracts.TUNING_WORK).exists()
    report = (run / contracts.REPORT).read_text(encoding="utf-8")
    assert "## Tuned on the training split" in report and "validation alone would pick" in report
    weights_line = next(line for line in report.splitlines() if line.startswith("- member weights:"))
    assert "; validation alone would pick encoder " in weights_line   # scored on validation, not a pointer
    assert "  - on validation (10 documents, micro_f1" in report
    page = (run / contracts.REPORT_HTML).read_text(encoding="utf-8")
    assert "<h3>Tuned on the training split</h3>" in page and weights_line[2:].split(";")[0] in page


@pytest.mark.slow   # a script in a subprocess (~15 s): CI's slow pass
def test_tuning_study_sets_each_pick_beside_validations_and_a_hand_set_config(tmp_path):
    import subprocess
    import sys
    from trainer.workflows.train import train
    dataset = make_tiny_dataset(tmp_path / "data", n=80)
    tree = _tree(dataset, tmp_path / "runs")
    tree["model"]["members"]["encoder"]["model"] = LINEAR   # two linear members: seconds
    run = train(load_config(None, RunConfig, tree=tree))
    hand = _tree(dataset, tmp_path / "runs", name="hand")   # the same members, weights and thresholds by hand
    hand["model"]["members"]["encoder"]["model"] = LINEAR
    hand["model"]["members"]["encoder"]["weight"], hand["model"]["members"]["linear"]["weight"] = 0.3, 0.7
    hand["eval"].update({"thresholds": "per_bucket", "bucket_thresholds": {">=100": 0.5, "20-99": 0.45,
                                                                           "5-19": 0.35, "<5": 0.3}})
    hand_config = tmp_path / "hand.yaml"
    hand_config.write_text(yaml.safe_dump(hand), encoding="utf-8")
    # run as it is run by hand (tests import nothing from scripts/)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "scripts" / "tuning_study.py"),
                           str(run), "--hand", str(hand_config)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:5]]
            for line in done.stdout.splitlines() if line.startswith("| ")}
    picked = contracts.read_tuning(run / "model")["weights"]["picked"]
    assert rows["member weights"][0] == ", ".join(f"{n} {w:.1f}" for n, w in picked.items())
    assert rows["member weights"][2] == "encoder 0.3, linear 0.7"
    assert {"topics bucket thresholds", "topics test micro_f1", "topics test macro_f1"} <= set(rows)
    # the hand-set values are used as they are, in every bucket the labels fall in
    cells = [cell.rsplit(" ", 1) for cell in rows["topics bucket thresholds"][2].split(", ")]
    assert cells and all(float(v) == hand["eval"]["bucket_thresholds"][g] for g, v in cells)


def test_pick_finds_the_planted_reading_and_the_final_fit_reads_so(tmp_path):
    from trainer.tuning.crossfit import OutOfFold, pick
    cfg, data, oof, labels = _planted(tmp_path)
    tree = _tree("d", tmp_path)
    tree["model"] = {**tiny_run_tree("u", "u")["model"], "reading": {"mode": "auto"}}
    cfg = load_config(None, RunConfig, tree=tree)
    good, bad = oof.scores["good"]["own"]["topics"], oof.scores["bad"]["own"]["topics"]
    readings = {"truncate": {"topics": bad}, "windows-max": {"topics": bad}, "windows-mean": {"topics": good},
                "windows-attention": {"topics": bad}}
    tuned = pick(cfg, data, OutOfFold({"model": readings}, oof.targets), list(range(400)), "micro_f1")
    assert tuned.readings == {"model": {"mode": "windows", "pool": "mean"}}
    assert tuned.record["readings"]["model"]["picked"] == "windows-mean" and len(tuned.record["tried"]) == 4
    final = tuned.fit_config(cfg).model.reading
    assert (final.mode, final.pool) == ("windows", "mean") and cfg.model.reading.mode == "auto"


def test_pick_finds_the_planted_gazetteer_combination(tmp_path):
    # the head scores at random, the gazetteer knows by a thin margin (0.55 / 0.45): only the rule that takes the
    # gazetteer alone (mean, weight 1.0) separates them
    from trainer.contracts import Target
    from trainer.tuning.crossfit import OutOfFold, pick
    cfg, data, oof, labels = _planted(tmp_path)
    truth = oof.scores["good"]["own"]["topics"] > 0.5
    truth[:, labels.index("rare")] = oof.scores["good"]["own"]["topics"][:, labels.index("rare")] > 0.3
    head = np.random.default_rng(1).uniform(0, 1, truth.shape).astype(np.float32)
    fused = OutOfFold({"good": {"own": {"topics": head}}, "bad": {"own": {"topics": head}}},
                      {"topics": Target("topics", "multi_label", tuple(labels))},
                      gazetteer={"topics": np.where(truth, 0.55, 0.45).astype(np.float32)}, gazetteer_only={"topics": None})
    tuned = pick(cfg, data, fused, list(range(400)), "micro_f1")
    assert tuned.fusion == {"topics": {"rule": "mean", "weight": 1.0}}
    assert tuned.record["fusion"]["topics"]["picked"] == tuned.fusion["topics"]


@pytest.mark.slow   # four readings cross-fitted (~15 s): CI's slow pass
def test_reading_auto_and_a_gazetteer_target_are_picked_on_the_training_split(tmp_path):
    from trainer.workflows.train import train
    dataset = make_tiny_dataset(tmp_path / "data", n=80)
    tree = tiny_run_tree(dataset, tmp_path / "runs", "multi")
    tree["model"] = {**tree["model"], "reading": {"mode": "auto"}}
    tree["task"] = {"targets": [{"name": "topics"}, {"name": "regions", "gazetteer": True}]}
    tree["eval"]["thresholds"] = "auto"
    tree["tune"] = {"stand_in": {"train.epochs": 2}}
    run = train(load_config(None, RunConfig, tree=tree))
    record = contracts.read_tuning(run / "model")
    spec = contracts.read_spec(run / "model")
    # texts shorter than a window read the same every way: the tie keeps the first candidate, truncate
    assert record["readings"]["model"]["picked"] == "truncate" and spec.settings["reading"]["mode"] == "truncate"
    assert set(record["thresholds"]) == {"topics", "regions"}
    rule = contracts.read_fusion(run / "model", spec)["regions"]
    assert {k: rule[k] for k in record["fusion"]["regions"]["picked"]} == record["fusion"]["regions"]["picked"]
    assert rule["picked_on"].startswith("training split") and "rule" in rule["validation_pick"]
    assert contracts.read_run_config(run).model.reading.mode == "auto"


# ---- the default news-topics recipe ----------------------------------------------------------------------
NEWS = Path(__file__).resolve().parents[1] / "configs" / "news-topics.yaml"


def test_news_topics_recipe_needs_only_its_dataset_and_sets_no_tuned_number(tmp_path):
    from trainer import tuning
    cfg = load_config(NEWS, RunConfig, overrides=[f"data.dataset={tmp_path}"])
    assert tuning.wanted(cfg)
    tuning.check(cfg)   # the stand-in applies to the MiniLM member
    assert {m.weight for m in cfg.model.members.values()} == {"auto"}
    assert cfg.eval.thresholds == "auto" and not cfg.eval.bucket_thresholds
    assert cfg.model.members["minilm"].model.reading.mode == "auto"


@pytest.mark.parametrize("labels, target, problem", [(("topics", "regions"), "topics", "multi_label"),
                                                     (("topic",), "topic", "single_label")])
def test_news_topics_recipe_takes_its_target_and_problem_from_the_dataset(tmp_path, labels, target, problem):
    # a scraped corpus built from sections has a `topic` column; Reuters-like codes a `topics` column: the
    # recipe with only data.dataset changed accepts both, checked as the run checks them before training
    from trainer import tuning
    from trainer.models import model_class
    from trainer.training.data import load_fit_data
    from trainer.workflows.train import resolve
    dataset = make_tiny_dataset(tmp_path / "news", labels=labels)
    cfg = load_config(NEWS, RunConfig, overrides=[f"data.dataset={dataset}", f"output.dir={tmp_path / 'runs'}"])
    assert cfg.task.target == "auto" and cfg.task.problem == "auto"
    run_cfg = resolve(cfg, NEWS)
    assert (run_cfg.task.target, run_cfg.task.problem) == (target, problem)
    assert run_cfg.model_dump(mode="json")["task"]["target"] == target   # what config.yaml records
    model_class(run_cfg.model.type).check_config(run_cfg)
    tuning.check(run_cfg)
    space, = load_fit_data(run_cfg).spaces
    assert (space.target, space.problem, space.labels) == (target, problem, ["crude", "earn", "grain", "trade"])


@pytest.mark.parametrize("labels, message", [
    (("topics", "topic"), "task.target auto: dataset .* has both a topics and a topic column; say which column to "
                          "learn: task.target=topics or task.target=topic"),
    (("regions",), "task.target auto: dataset .* has no topic column \\(topics or topic; it has regions\\); "
                   "say which column to learn: task.target=regions")])
def test_task_auto_on_a_dataset_with_both_or_no_topic_column_is_refused_in_one_line(tmp_path, labels, message):
    from trainer.workflows.train import resolve
    dataset = make_tiny_dataset(tmp_path / "news", labels=labels)
    cfg = load_config(NEWS, RunConfig, overrides=[f"data.dataset={dataset}"])
    with pytest.raises(ConfigError, match=message) as err:
        resolve(cfg, NEWS)
    assert "\n" not in str(err.value)
    pinned = load_config(NEWS, RunConfig, overrides=[f"data.dataset={dataset}", f"task.target={labels[-1]}"])
    assert resolve(pinned, NEWS).task.target == labels[-1]   # the config says which: no question asked
    assert resolve(pinned, NEWS).task.problem == ("single_label" if labels[-1] == "topic" else "multi_label")


def test_task_auto_before_a_first_use_build_reads_the_columns_of_data_build(tmp_path):
    # no dataset yet: the columns the data config will write decide (the run builds it after this)
    from trainer.workflows.train import resolve
    root = Path(__file__).resolve().parents[1] / "configs" / "data"
    for config, target, problem in (("reuters-r52.yaml", "topic", "single_label"),
                                    ("reuters-topics.yaml", "topics", "multi_label")):
        cfg = load_config(NEWS, RunConfig, overrides=[f"data.dataset={tmp_path / 'not-built'}",
                                                      f"data.build={root / config}"])
        assert (resolve(cfg, NEWS).task.target, resolve(cfg, NEWS).task.problem) == (target, problem)


def test_a_config_that_pins_its_target_is_not_resolved_from_the_dataset(tmp_path):
    from trainer.workflows.train import resolve
    dataset = make_tiny_dataset(tmp_path / "news", labels=("topics", "topic"))   # auto would refuse this one
    cfg = load_config(None, RunConfig, tree=tiny_run_tree(dataset, tmp_path))
    assert not cfg.task.auto
    assert (resolve(cfg).task.target, resolve(cfg).task.problem) == ("topics", "multi_label")


@pytest.mark.slow
@pytest.mark.parametrize("labels", [("topics", "regions")], ids=["multi_label"])
def test_news_topics_recipe_trains_on_a_new_dataset_changing_only_data_dataset(tmp_path, minilm_dir, labels):
    # the shipped recipe as it is (pretrained MiniLM, 256 tokens, 4 epochs), on a dataset it has never seen;
    # output.dir only keeps the run out of the repository. Multi-label exercises every auto setting (weights,
    # reading, bucket thresholds); a single-label dataset's resolution is checked without training above
    # (test_news_topics_recipe_takes_its_target_and_problem_from_the_dataset): one pretrained run keeps CI's
    # slow pass within its time
    from trainer.models import load_model
    from trainer.workflows.train import train
    dataset = make_tiny_dataset(tmp_path / "my-news", n=80, labels=labels)
    target = labels[0]
    cfg = load_config(NEWS, RunConfig, overrides=[f"data.dataset={dataset}", f"output.dir={tmp_path / 'runs'}"])
    run = train(cfg, NEWS)
    record = contracts.read_tuning(run / "model")
    assert set(record["weights"]["picked"]) == {"minilm", "svm"} and record["readings"]["minilm"]["picked"]
    assert contracts.read_metrics(run)[target]["test"]["n_examples"] == 30
    assert contracts.read_run_config(run).task.target == target
    problem = "multi_label" if target == "topics" else "single_label"
    assert contracts.read_meta(run)["from_dataset"] == {"task.target": target, "task.problem": problem}
    assert load_model(run).score(["wheat harvest and corn exports"])[target].shape == (1, 4)


def test_fusion_auto_alone_asks_for_tuning(tmp_path):
    from trainer import tuning
    tree = tiny_run_tree("d", tmp_path)
    tree["task"] = {"targets": [{"name": "topics"}, {"name": "regions", "gazetteer": True}]}
    assert not tuning.wanted(load_config(None, RunConfig, tree=tree))
    tree["eval"]["fusion"] = "auto"
    assert tuning.wanted(load_config(None, RunConfig, tree=tree))
