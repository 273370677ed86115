"""The teacher of a student: a trained run, its answer per target on texts (the soft labels), what is recorded
of it with the student, and the unlabelled in-domain text it labels too."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.contracts import CONFIG, is_run_dir, model_dir_of, read_spec
from trainer.errors import ConfigError, DataError


def check_teacher(path: str) -> None:
    if not Path(path).is_dir() or not is_run_dir(path):
        raise ConfigError(f"model.teacher: {path} is not a trained run directory; train the teacher first "
                          "(trainer train CONFIG) and give its run directory")


def load_teacher(path: str, spaces, batch_size: int):
    """The teacher's model (scoring in its fastest faithful setting), checked to answer every target of the run
    with the same labels; a teacher answering targets the run lacks is refused (the student keeps them all)."""
    from trainer.models.base import ScoreOptions
    from trainer.models.registry import load_model
    check_teacher(path)
    model = load_model(path, ScoreOptions(batch_size=batch_size))
    got = {t.name: t for t in model.answer_spec.targets}
    want = {s.target: s.as_target() for s in spaces}
    if set(got) != set(want) or any((got[n].problem, tuple(got[n].labels)) != (want[n].problem, tuple(want[n].labels))
                                    for n in want):
        raise ConfigError(f"model.teacher: {path} answers {_describe(got.values())}, this run's task "
                          f"{_describe(want.values())}; set the task section (task.target / task.targets) and "
                          f"data.dataset as in {Path(path) / CONFIG}")
    return model


def _describe(targets) -> str:
    return ", ".join(f"{t.name} ({t.problem}, {len(t.labels)} labels)" for t in targets)


def teacher_scores(teacher, texts: Sequence[str], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Per target, the teacher's answer (probabilities, combined as the teacher combines them) on `texts`."""
    if not texts:
        return {n: np.zeros((0, len(teacher.answer_spec.target(n).labels)), np.float32) for n in names}
    scores = teacher.score(list(texts))
    return {n: np.clip(np.asarray(scores[n], dtype=np.float32), 0.0, 1.0) for n in names}


def teacher_record(path: str) -> dict:
    """What the student records of its teacher: the run, its model kind, and hashes of its resolved config and
    model spec (a retrained teacher in the same folder shows as a different hash)."""
    run = Path(path).resolve()
    spec = read_spec(model_dir_of(run))
    return {"run": str(run), "model_type": spec.model_type,
            "config_sha256": hashlib.sha256((run / CONFIG).read_bytes()).hexdigest(),
            "spec_sha256": hashlib.sha256(repr(sorted(spec.to_dict().items())).encode()).hexdigest()}


def read_unlabelled(path: str, dataset_dir: Path, test_texts: Sequence[str]) -> tuple[list[str], dict]:
    """The article files under `path` (a file or folder), read with the dataset's readers and cleaning
    (its cleaning.json), and an account of every file: kept, rejected by the reader (with its reason), a text
    of the test split (dropped: the student never learns from test), a duplicate, or not an article file."""
    from trainer.data.article import Rejected
    from trainer.data.cleaning import Cleaning, generic
    from trainer.data.reader_kinds import BY_SUFFIX, SINGLE_FILE_KINDS

    root = Path(path)
    if not root.exists():
        raise ConfigError(f"model.unlabelled: {path} does not exist; give a folder or file of article files")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    cleaning = Cleaning.load(dataset_dir) or generic()
    test, seen = set(test_texts), set()
    texts, account = [], {"files": len(files), "kept": 0, "rejected": 0, "in_test_split": 0, "duplicate": 0,
                          "not_articles": 0, "reasons": {}}
    for file in files:
        kind = BY_SUFFIX.get(file.suffix.lower())
        if kind not in SINGLE_FILE_KINDS:
            account["not_articles"] += 1
            continue
        try:
            items = cleaning.read(file, kind)
        except DataError as exc:
            items = [Rejected(str(file), str(exc))]
        for item in items:
            if isinstance(item, Rejected):
                account["rejected"] += 1
                reason = item.reason
                account["reasons"][reason] = account["reasons"].get(reason, 0) + 1
            elif item.text in test:
                account["in_test_split"] += 1
            elif item.text in seen:
                account["duplicate"] += 1
            else:
                seen.add(item.text)
                texts.append(item.text)
                account["kept"] += 1
    return texts, account
