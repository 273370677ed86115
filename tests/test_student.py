"""model.type: student: a static student distilled from a trained run (teacher) reproduces its labels, keeps every
target of a multi-task teacher, records its teacher, reuses its distilled vocabulary, reads unlabelled articles
as the dataset was read, and refuses what cannot work in one line."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from conftest import tiny_run_tree, tiny_teacher_run
from trainer import contracts
from trainer.config import RunConfig, load_config
from trainer.errors import ConfigError
from trainer.models import export_model, load_model
from trainer.serving.predictor import Predictor
from trainer.workflows.train import train

pytestmark = pytest.mark.integration   # trains tiny teachers and students

TINY_STUDENT = {"type": "student", "init": "random", "pca_dims": 8, "hidden": 0,
                "config_overrides": {"num_hidden_layers": 1, "hidden_size": 16, "num_attention_heads": 2,
                                     "intermediate_size": 32},
                "epochs": 100, "patience": 100, "learning_rate": 0.03, "batch_size": 8}


def _student_tree(dataset, out, teacher, name="student", **changes) -> dict:
    tree = tiny_run_tree(dataset, out, name)
    tree["model"] = {**TINY_STUDENT, "teacher": str(teacher), "vocabulary_cache": str(dataset.parent / "static-vocabulary"),
                     **changes}
    return tree


def _labels(run, texts) -> list[list[str]]:
    return [r["labels"] for r in (Predictor.load(run, precision="fp32").wire(x)
                                  for x in Predictor.load(run, precision="fp32").predict(texts))]


def test_student_reproduces_its_teachers_labels_on_training_data(tiny_run_dir, tiny_dataset_dir, tmp_path):
    # the teacher: the tiny transformer run; the student learns its scores, not the gold labels
    student = train(load_config(None, RunConfig, tree=_student_tree(tiny_dataset_dir, tmp_path, tiny_run_dir)))
    import datasets
    texts = datasets.load_from_disk(str(tiny_dataset_dir))["train"]["text"]
    teacher_probs = load_model(tiny_run_dir).score(texts)["topics"]
    student_probs = load_model(student).score(texts)["topics"]
    assert np.abs(student_probs - teacher_probs).mean() < 0.05
    agree = [a == b for a, b in zip(_labels(student, texts), _labels(tiny_run_dir, texts))]
    assert sum(agree) >= 0.95 * len(texts), f"{sum(agree)} of {len(texts)} training texts labelled as the teacher"


def test_student_records_its_teacher_and_vocabulary(tiny_dataset_dir, tmp_path):
    teacher = tiny_teacher_run(tiny_dataset_dir, {"target": "topics"})
    student = train(load_config(None, RunConfig, tree=_student_tree(tiny_dataset_dir, tmp_path, teacher)))
    settings = contracts.read_spec(student / "model").settings
    assert settings["teacher"]["run"] == str(teacher.resolve())
    assert settings["teacher"]["config_sha256"] == hashlib.sha256((teacher / contracts.CONFIG).read_bytes()).hexdigest()
    assert settings["teacher"]["model_type"] == "tfidf-linear"
    assert settings["embeddings"] in ("frozen", "tuned") and set(settings["validation_loss"]) == {"frozen", "tuned"}
    # the picked embeddings are the ones closer to the teacher on validation
    assert settings["validation_loss"][settings["embeddings"]] == min(settings["validation_loss"].values())
    assert len(settings["vocabulary"]["sha256"]) == 64


def test_student_keeps_every_target_of_a_multi_task_teacher(tiny_dataset_dir, tmp_path):
    task = {"targets": [{"name": "topics"}, {"name": "regions"}]}
    teacher = tiny_teacher_run(tiny_dataset_dir, task)
    tree = _student_tree(tiny_dataset_dir, tmp_path, teacher)
    tree["task"] = task
    student = train(load_config(None, RunConfig, tree=tree))
    scores = load_model(student).score(["Paris: wheat harvest", "Tokyo: oil prices"])
    assert set(scores) == {"topics", "regions"}
    assert set(contracts.read_metrics(student)) == {"topics", "regions"}


def test_student_of_a_teacher_with_other_targets_is_refused_in_one_line(tiny_dataset_dir, tmp_path):
    teacher = tiny_teacher_run(tiny_dataset_dir, {"target": "topic", "problem": "single_label"})
    with pytest.raises(ConfigError, match="model.teacher") as err:
        train(load_config(None, RunConfig, tree=_student_tree(tiny_dataset_dir, tmp_path, teacher)))
    assert "\n" not in str(err.value) and "task" in str(err.value)


def test_student_teacher_that_is_not_a_run_is_refused(tiny_dataset_dir, tmp_path):
    with pytest.raises(ConfigError, match="model.teacher: .* is not a trained run directory"):
        train(load_config(None, RunConfig, tree=_student_tree(tiny_dataset_dir, tmp_path, tmp_path / "nothing")))


def test_student_vocabulary_is_distilled_once_and_reused(tiny_dataset_dir, tmp_path):
    teacher = tiny_teacher_run(tiny_dataset_dir, {"target": "topics"})
    said = []
    for name in ("first", "second"):
        tree = _student_tree(tiny_dataset_dir, tmp_path, teacher, name=name, vocabulary_cache=str(tmp_path / "cache"))
        train(load_config(None, RunConfig, tree=tree), progress=said.append)
    distilled = [e for e in said if e.get("event") == "notice" and "distilling" in e.get("message", "")]
    assert len(distilled) == 1
    (folder,) = list((tmp_path / "cache").iterdir())
    assert (folder / contracts.VOCABULARY_WEIGHTS).is_file()


OIL_PAGE = ("OPEC agrees to raise crude output\n\n"
            "OPEC ministers agreed on Monday to raise crude oil output by two million barrels per day from next "
            "month, the cartel said after a meeting in Vienna.\n\n"
            "Oil prices fell after the decision, with traders saying the extra barrels would ease supply worries "
            "that have pushed refinery margins higher this year.\n")
GRAIN_PAGE = ("Wheat exports climb on strong harvest\n\n"
              "Wheat and corn exports rose sharply in the third quarter as a record harvest filled grain elevators, "
              "the agriculture ministry said on Tuesday.\n\n"
              "Shipments of soybeans and barley also increased, and officials expect grain sales abroad to stay "
              "strong for the rest of the season.\n")


def test_student_reads_unlabelled_articles_as_the_dataset_and_never_the_test_split(tiny_dataset_dir, tmp_path):
    from trainer.data.article import Rejected
    from trainer.data.cleaning import generic
    from trainer.models.student.teacher import read_unlabelled
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.txt").write_text(OIL_PAGE, encoding="utf-8")
    (pages / "b.txt").write_text(OIL_PAGE, encoding="utf-8")      # the same article again
    (pages / "c.txt").write_text(GRAIN_PAGE, encoding="utf-8")
    (pages / "notes.bin").write_bytes(b"\x00\x01")
    # what the dataset's reader and cleaning (the tiny dataset has no cleaning.json: the readers' defaults) make
    as_read = {name: [a.text for a in generic().read(pages / name, "scraped") if not isinstance(a, Rejected)]
               for name in ("a.txt", "c.txt")}
    assert all(len(texts) == 1 for texts in as_read.values()), as_read
    # a text of the test split is never learned from: the grain page is made one here
    texts, account = read_unlabelled(str(pages), tiny_dataset_dir, test_texts=as_read["c.txt"])
    assert texts == as_read["a.txt"]
    assert account == {"files": 4, "kept": 1, "rejected": 0, "in_test_split": 1, "duplicate": 1, "not_articles": 1,
                       "reasons": {}}
    # a student run takes both pages beside the 40 training texts, and says so in meta.json
    teacher = tiny_teacher_run(tiny_dataset_dir, {"target": "topics"})
    student = train(load_config(None, RunConfig, tree=_student_tree(tiny_dataset_dir, tmp_path, teacher,
                                                                     unlabelled=str(pages))))
    meta = contracts.read_meta(student)
    assert meta["unlabelled"]["kept"] == 2 and meta["student_examples"] == 40 + 2


def test_student_export_says_why_there_is_none(tiny_dataset_dir, tmp_path):
    teacher = tiny_teacher_run(tiny_dataset_dir, {"target": "topics"})
    student = train(load_config(None, RunConfig, tree=_student_tree(tiny_dataset_dir, tmp_path, teacher)))
    with pytest.raises(ConfigError, match="student models cannot be exported to onnx: a static student already "
                                          "scores without torch") as err:
        export_model(student)
    assert "\n" not in str(err.value)
