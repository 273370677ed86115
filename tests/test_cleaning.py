"""One cleaning, saved with the model: a page is served to the model cleaned exactly as the build cleaned it
for training (trainer/data/cleaning.py), on a generated two-outlet corpus (tests/outlet_corpus.py)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from outlet_corpus import BOILERPLATE, data_config, write_corpus
from trainer.data.cleaning import GENERIC, Cleaning, outlet_cleaning
from trainer.errors import DataError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(pages folder, generated pages, built dataset folder)."""
    from trainer.data.build import build_dataset
    from trainer.data.config import DataConfig
    root = tmp_path_factory.mktemp("outlets")
    pages = write_corpus(root / "pages", pages_per_outlet=30, seed=3)
    cfg = DataConfig.model_validate(data_config(root / "pages", root / "dataset", multitask=True))
    build_dataset(cfg)
    return root / "pages", pages, root / "dataset"


@pytest.fixture(scope="module")
def outlets_run(corpus, tmp_path_factory) -> Path:
    """A TF-IDF run answering topics and regions, trained on the corpus's dataset (seconds)."""
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    tree = {"data": {"dataset": str(corpus[2])},
            "task": {"targets": [{"name": "topics", "problem": "multi_label"},
                                 {"name": "regions", "problem": "multi_label"}]},
            "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "eval": {"thresholds": "none"},
            "output": {"dir": str(tmp_path_factory.mktemp("runs")), "name": "outlets-tfidf"}}
    return train(load_config(None, RunConfig, tree=tree))


def _dataset_texts(dataset: Path) -> dict[str, str]:
    import datasets
    dsd = datasets.load_from_disk(str(dataset))
    return {row["id"]: row["text"] for split in dsd.values() for row in split}


def _page_of(pages: Path, doc_id: str) -> Path:
    return pages / f"{doc_id}.txt"


def test_the_build_saves_each_outlets_learned_boilerplate_beside_the_manifest(corpus):
    pages, _, dataset = corpus
    cleaning = Cleaning.load(dataset)
    assert cleaning is not None and cleaning.kind == "scraped"
    assert sorted(cleaning.outlets) == ["planet", "sputnik"]
    assert {"The Daily Planet", "Share on Telegram", "Share on Facebook", "Read more:"} <= cleaning.outlets["planet"]
    assert "Share on VK" in cleaning.outlets["sputnik"] and "Share on VK" not in cleaning.outlets["planet"]
    assert cleaning.source["profile"]["section_after"] == ["Listen Live", "Menu"]   # the build's own profile
    assert not cleaning.outlets["planet"] - set(BOILERPLATE["planet"])    # nothing of the stories themselves


@pytest.mark.integration
def test_training_copies_the_cleaning_into_the_model(corpus, outlets_run):
    assert (outlets_run / "model" / "cleaning.json").read_bytes() == (corpus[2] / "cleaning.json").read_bytes()


@pytest.mark.integration
@pytest.mark.parametrize("where", ["outlet folder", "flat folder"])
def test_every_page_is_served_the_text_it_was_trained_on(corpus, outlets_run, tmp_path, where):
    """The texts the model scores for the corpus's pages equal the dataset's texts of those documents: in the
    outlet's folder (the build's rule), and copied elsewhere under another name (a page dropped on the page:
    the outlet is found from its content)."""
    from trainer.serving.predictor import Predictor
    pages, _, dataset = corpus
    trained = _dataset_texts(dataset)
    predictor = Predictor.load(outlets_run)
    served: list[str] = []
    score = predictor.model.score_with_parts
    predictor.model.score_with_parts = lambda texts, *a, **kw: (served.extend(texts), score(texts, *a, **kw))[1]
    ids = sorted(trained)
    paths = [_page_of(pages, i) for i in ids]
    if where == "flat folder":
        flat = [tmp_path / f"upload-{k}.txt" for k in range(len(paths))]
        for src, dst in zip(paths, flat):
            shutil.copyfile(src, dst)
        paths = flat
    records = predictor.predict_articles(paths)
    assert served == [trained[i] for i in ids]
    assert [r["cleaning"] for r in records] == [outlet_cleaning(i.split("/")[0]) for i in ids]
    assert not any(r["title"].startswith(("The Daily Planet", "Share on")) for r in records)


def test_without_the_saved_cleaning_the_outlets_widgets_leak_into_the_text(corpus, tmp_path):
    """What the saved cleaning prevents (the issue's "Share on Telegram" title): generic cleaning keeps them."""
    from trainer.serving.inputs import read_raw
    pages, _, dataset = corpus
    page = next((pages / "planet").glob("000_*.txt"))
    generic = read_raw(page)[0]
    learned = read_raw(page, cleaning=Cleaning.load(dataset))[0]
    assert "Share on Telegram" in generic.text and "Share on Telegram" not in learned.text
    assert generic.meta["cleaning"] == GENERIC and learned.meta["cleaning"] == "outlet:planet"
    assert learned.text == _dataset_texts(dataset)["planet/" + page.stem]


def test_outlet_rules_asked_unknown_and_other_kinds(corpus, tmp_path):
    from trainer.serving.inputs import read_raw
    pages, generated, dataset = corpus
    cleaning = Cleaning.load(dataset)
    page = next((pages / "sputnik").glob("001_*.txt"))
    # asked for: that outlet's lines, whatever the page holds
    assert read_raw(page, cleaning=cleaning, outlet="planet")[0].meta["cleaning"] == "outlet:planet"
    with pytest.raises(DataError, match=r"outlet 'nope'.*known: planet, sputnik"):
        read_raw(page, cleaning=cleaning, outlet="nope")
    with pytest.raises(DataError, match=r"outlet 'planet': this model knows no outlets \(its dataset was built "
                                        r"before cleaning.json was saved\)"):
        read_raw(page, outlet="planet")     # a model trained before cleaning.json
    # a page of an outlet the build never saw: generic cleaning, and said so
    stranger = tmp_path / "stranger.txt"
    stranger.write_text("Other Times\nBreaking\n\nThe council in Paris voted on the budget deficit today.\n",
                        encoding="utf-8")
    assert read_raw(stranger, cleaning=cleaning)[0].meta["cleaning"] == GENERIC
    # the HTML page: the HTML reader, nothing learned
    html = next(p.path for p in generated if p.kind == "html")
    assert read_raw(html, cleaning=cleaning)[0].meta["cleaning"] == GENERIC


def test_a_malformed_cleaning_file_is_named(tmp_path):
    (tmp_path / "cleaning.json").write_text('{"format": 1, "kind": "scraped", "outlets": {}}', encoding="utf-8")
    with pytest.raises(DataError, match=r"cleaning.json: malformed cleaning record .*'source'.*train the run again"):
        Cleaning.load(tmp_path)


@pytest.mark.integration
def test_predict_and_the_file_drop_give_the_labels_the_evaluation_scored(corpus, outlets_run):
    """Done when: for each page the evaluation scored (predictions.jsonl), `trainer predict FILE` and
    POST /predict-file answer the same labels, per target."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from trainer.cli import app
    from trainer.serving.http import create_app
    from trainer.serving.predictor import Predictor
    pages = corpus[0]
    scored = [json.loads(line) for line in (outlets_run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(scored) >= 10
    expected = {row["id"]: {t: v["predicted"] for t, v in row["targets"].items()} for row in scored}
    files = [str(_page_of(pages, row["id"])) for row in scored]
    result = CliRunner().invoke(app, ["predict", str(outlets_run), *files, "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    answered = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [{t: r[t]["labels"] for t in ("topics", "regions")} for r in answered] == [expected[r["id"]] for r in scored]
    client = TestClient(create_app(Predictor.load(outlets_run)))
    for row in scored:
        page = _page_of(pages, row["id"])
        body = client.post("/predict-file", params={"name": "dropped.txt"}, content=page.read_bytes()).json()
        assert body["articles"][0]["cleaning"] == outlet_cleaning(row["id"].split("/")[0])
        assert {t: body["predictions"][0][t]["labels"] for t in ("topics", "regions")} == expected[row["id"]]


def test_the_generated_corpus_is_seeded_and_holds_the_awkward_pages(tmp_path, corpus):
    a, b, c = (write_corpus(tmp_path / name, pages_per_outlet=6, seed=seed) for name, seed in
               (("a", 1), ("b", 1), ("c", 2)))

    def files(root):
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    assert files(tmp_path / "a") == files(tmp_path / "b") != files(tmp_path / "c")
    kinds = {p.kind: p for p in a}
    assert set(kinds) == {"page", "empty", "boilerplate", "cp1251", "duplicate", "html"}
    raw = kinds["cp1251"].path.read_bytes()
    assert "«Мы заинтересованы" in raw.decode("cp1251")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    # the build accounts for each: the empty and the widgets-only page rejected, the .html page that the
    # **/*.txt pattern leaves out rejected with that reason, the re-timestamped copy a duplicate, the cp1251
    # page read as Cyrillic text
    dataset = corpus[2]
    rejects = [json.loads(x) for x in (dataset / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(Path(r["input"]).name for r in rejects) == ["900_empty.txt", "901_boilerplate.txt", "904_page.html"]
    (duplicate,) = [json.loads(x) for x in (dataset / "duplicates.jsonl").read_text(encoding="utf-8").splitlines()]
    assert duplicate["id"].endswith("903_retimestamped")
    assert "«Мы заинтересованы" in _dataset_texts(dataset)["sputnik/902_cp1251"]
    regions = json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))["labels"]["regions"]
    assert regions == ["Africa", "Americas", "Asia", "Europe", "Oceania"]     # every M49 region
