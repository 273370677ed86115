"""A student run beside its teacher (issue 25): test micro/macro-F1 of both (and of a TF-IDF run), docs/s of the
student against the teacher's bf16 `Predictor` on the same test texts, and what the student's training cost.

    nice -n 19 python scripts/bench_student.py --teacher runs/reuters-topics-ensemble \\
        --student runs/reuters-topics-student --tfidf runs/reuters-topics-tfidf --n 1000

F1 figures are the runs' own test metrics (metrics.json, their tuned thresholds). docs/s: `Predictor.predict`
(labels and scores, as `trainer predict` answers) on the first --n test texts of the student's dataset, batch 32;
the teacher in bf16 reads as its model says (a MiniLM member at its model.max_length, 256 in the Reuters recipe:
the script prints it). Each rate is the faster of two passes after a warm-up pass. The machine's load average is
printed before and after: the rates are only comparable on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import os
import time


def _f1(run) -> dict[str, tuple[float, float]]:
    from trainer import contracts
    return {target: (float(m["test"]["micro_f1"]), float(m["test"]["macro_f1"]))
            for target, m in contracts.read_metrics(run).items() if "test" in m}


def _rate(predictor, texts: list[str], passes: int = 2) -> float:
    predictor.predict(texts[: min(len(texts), 64)])   # warm-up: kernels, lazy imports
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        predictor.predict(texts)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def main(argv=None) -> None:
    import datasets

    from trainer import contracts
    from trainer.serving.predictor import Predictor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", required=True, help="the teacher's run directory")
    ap.add_argument("--student", required=True, help="the student's run directory")
    ap.add_argument("--tfidf", help="a TF-IDF run on the same dataset (its F1 beside the others)")
    ap.add_argument("--n", type=int, default=1000, help="test texts timed (0: the whole test split)")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)

    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    runs = {"teacher": args.teacher, "student": args.student, **({"tfidf": args.tfidf} if args.tfidf else {})}
    print("\ntest F1 (each run's metrics.json)")
    for name, run in runs.items():
        for target, (micro, macro) in _f1(run).items():
            print(f"  {name:8s} {target:8s} micro-F1 {micro:.3f}  macro-F1 {macro:.3f}   ({run})")

    meta = contracts.read_meta(args.student)
    settings = contracts.read_spec(contracts.model_dir_of(args.student)).settings
    print(f"\nstudent training: {meta.get('train_seconds')} s in all (teacher scoring "
          f"{meta.get('teacher_scoring_seconds')} s of it; vocabulary from the cache if distilled before), "
          f"embeddings {settings.get('embeddings')}, {meta.get('student_examples')} texts, "
          f"{meta.get('model_parameters')} parameters")

    dataset = contracts.read_run_config(args.student).data.dataset
    texts = list(datasets.load_from_disk(str(dataset))["test"]["text"])
    texts = texts[: args.n] if args.n else texts
    teacher = Predictor.load(args.teacher, precision="bf16", batch_size=args.batch_size)
    student = Predictor.load(args.student, batch_size=args.batch_size)
    print(f"\ndocs/s on {len(texts)} test texts of {dataset}, batch {args.batch_size}")
    print(f"  teacher reads: {teacher.model.reading_description()}")
    print(f"  student reads: {student.model.reading_description()}")
    s_rate = _rate(student, texts)
    t_rate = _rate(teacher, texts)
    print(f"  teacher (bf16 Predictor) {t_rate:10.1f} docs/s")
    print(f"  student (Predictor)      {s_rate:10.1f} docs/s   {s_rate / t_rate:.1f}x the teacher")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
