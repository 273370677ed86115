"""A region target combined with the gazetteer answers over the whole M49 set at its granularity: the labels its
head never learned (no training page, or too few to keep) are answered by the gazetteer alone, and marked so."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import TINY_REGIONS, TINY_TOPICS, KeywordModel
from trainer import contracts
from trainer.contracts import ModelSpec, Target
from trainer.data.regions import RegionScorer, m49_labels
from trainer.decisions import fuse

KYRGYZ = "Bishkek talks\n\nOfficials in Bishkek said on Monday that trade with Kyrgyzstan would grow."
PARIS = "Paris: wheat harvest\n\nwheat harvest in Paris."
SUBREGIONS_NOT_TINY = [label for label in m49_labels("subregion") if label not in TINY_REGIONS]


def combined_spec(gazetteer_only: list[str] | None = SUBREGIONS_NOT_TINY) -> ModelSpec:
    """A topics + regions spec whose regions answer combines the (keyword) head with the gazetteer."""
    gazetteer = {"targets": ["regions"], "granularity": "subregion", "min_mentions": 3}
    if gazetteer_only is not None:
        gazetteer["gazetteer_only"] = {"regions": gazetteer_only}
    return ModelSpec("keyword", [Target("topics", "multi_label", tuple(sorted(TINY_TOPICS))),
                                 Target("regions", "multi_label", tuple(sorted(TINY_REGIONS)))],
                     {"gazetteer": gazetteer})


@pytest.fixture
def combined_predictor(tmp_path):
    from trainer.serving.predictor import Predictor
    spec = combined_spec()
    model_dir = tmp_path / "combined" / "model"
    KeywordModel(spec).save(model_dir)      # trainer.json and the 0.5 thresholds over the answer's labels
    model = KeywordModel(contracts.read_spec(model_dir))
    return Predictor(model, contracts.read_thresholds(model_dir, model.answer_spec), model_dir)


def test_m49_labels_are_every_un_subregion():
    labels = m49_labels("subregion")
    assert {"Central Asia", "Southern Asia", "Eastern Europe", "Western Europe", "Micronesia"} <= set(labels)
    assert labels == sorted(labels) and "" not in labels
    assert m49_labels("region") == ["Africa", "Americas", "Antarctica", "Asia", "Europe", "Oceania"]
    assert {"KGZ", "SUN", "DDR"} <= set(m49_labels("country"))     # historical states keep their retired codes


def test_answer_spec_widens_only_the_combined_target():
    spec = combined_spec()
    answer = contracts.answer_spec(spec)
    assert answer.target("regions").labels == tuple(m49_labels("subregion"))
    assert answer.target("topics") == spec.target("topics")
    assert contracts.gazetteer_only(spec) == {"regions": tuple(SUBREGIONS_NOT_TINY)}
    old = combined_spec(gazetteer_only=None)            # a model trained before: its head's labels only
    assert contracts.answer_spec(old) is old and contracts.gazetteer_only(old) == {}


def test_fit_data_records_every_subregion_the_head_cannot_score():
    from trainer.data.label_space import LabelSpace
    from trainer.models import FitData
    from trainer.models.combination import gazetteer_settings

    class Cfg:   # the one thing gazetteer_settings reads of a run config
        class task:
            @staticmethod
            def resolved():
                return [type("T", (), {"name": "topics", "gazetteer": False}),
                        type("T", (), {"name": "regions", "gazetteer": True})]

    regions = sorted(TINY_REGIONS)
    spaces = [LabelSpace("regions", regions, [5] * len(regions), 20, "multi_label")]
    manifest = {"config": {"labels": {"region": {"granularity": "subregion", "min_mentions": 2}}}}
    settings = gazetteer_settings(FitData("unused", None, spaces, manifest), Cfg)
    assert settings["targets"] == ["regions"] and settings["min_mentions"] == 2
    assert settings["gazetteer_only"] == {"regions": SUBREGIONS_NOT_TINY}
    assert "Central Asia" in settings["gazetteer_only"]["regions"]


def test_fuse_gives_gazetteer_only_labels_the_gazetteer_score_as_is():
    head, gaz = np.array([[0.8, 0.0, 0.2]]), np.array([[0.0, 0.99, 0.6]])
    only = np.array([False, True, False])
    np.testing.assert_allclose(fuse(head, gaz, {"rule": "mean", "weight": 0.5}, only), [[0.4, 0.99, 0.4]], atol=1e-6)
    np.testing.assert_allclose(fuse(head, gaz, {"rule": "mean", "weight": 0.5}), [[0.4, 0.495, 0.4]], atol=1e-6)


def test_region_absent_from_training_is_answered_by_the_gazetteer_and_marked(combined_predictor):
    kyrgyz, paris = combined_predictor.predict([KYRGYZ, PARIS], explain=True)
    regions = kyrgyz["regions"]
    assert "Central Asia" in regions["labels"] and regions["gazetteer_only"] == ["Central Asia"]
    assert regions["scores"]["Central Asia"] == pytest.approx(1.0)      # the title's place: the gazetteer's 1.0
    assert regions["parts"]["head"]["scores"]["Central Asia"] == 0.0     # the head has no such label
    assert paris["regions"]["labels"] == ["Western Europe"] and paris["regions"]["gazetteer_only"] == []
    assert "gazetteer_only" not in paris["topics"]
    assert [t.name for t in combined_predictor.targets] == ["topics", "regions"]
    assert combined_predictor.spec.target("regions").labels == tuple(m49_labels("subregion"))


def test_page_tags_count_as_the_title_places():
    scorer = RegionScorer(m49_labels("subregion"))
    text = "Talks in Moscow\n\nOfficials met on Monday; one mentioned Afghanistan."
    plain, tagged = scorer.score([text, text], tags=[None, ["Afghanistan", "terrorism", "Kyrgyzstan"]])
    column = {label: j for j, label in enumerate(scorer.labels)}
    assert plain[column["Southern Asia"]] < 0.5 and plain[column["Central Asia"]] == 0.0
    assert tagged[column["Southern Asia"]] == 1.0 and tagged[column["Central Asia"]] == 1.0


def test_predict_articles_passes_the_page_tags(combined_predictor, tmp_path):
    page = tmp_path / "page.txt"
    page.write_text("08:25 GMT18 February 2020\nListen Live\n    World\n    Get short URL\n    0 12\n\n"
                    "    Trade talks held on Monday\n\n    MOSCOW (Sputnik) — Officials said on Monday that talks on "
                    "trade went well. Delegations came from several countries and agreed to meet again.\n\n"
                    "    They said more talks would follow next month.\n\n\n"
                    "    trade, talks, Kyrgyzstan\n    Community standardsDiscussion\n", encoding="utf-8")
    from trainer.serving.inputs import read_raw
    article = next(iter(read_raw(page)))
    assert "Kyrgyzstan" in article.tags and "Kyrgyzstan" not in article.text
    record = combined_predictor.predict_articles([page])[0]
    assert "Central Asia" in record["regions"]["gazetteer_only"]


def test_predict_table_and_serve_mark_gazetteer_only_labels(combined_predictor):
    from fastapi.testclient import TestClient
    from rich.console import Console

    from trainer.serving.http import create_app
    from trainer.console.predict_table import GAZETTEER_ONLY, predict_table
    records = combined_predictor.predict([KYRGYZ])
    console = Console(width=250, record=True)
    console.print(predict_table(records, [("topics", 4), ("regions", 23)], ["kyrgyz"]))
    assert f"Central Asia {GAZETTEER_ONLY}" in console.export_text()

    client = TestClient(create_app(combined_predictor))
    answer = client.post("/predict", json={"texts": [KYRGYZ]}).json()["predictions"][0]
    assert answer["regions"]["gazetteer_only"] == ["Central Asia"]
    regions = client.get("/labels").json()["targets"]["regions"]
    assert regions["labels"] == m49_labels("subregion") and regions["gazetteer_only"] == SUBREGIONS_NOT_TINY
    page = client.get("/").text
    assert "gazetteer_only" in page and "(gazetteer only)" in page


@pytest.mark.integration
def test_the_generic_fit_path_records_the_combination_and_no_kind_does(tiny_dataset_dir, tmp_path):
    from trainer.config import RunConfig, load_config
    from trainer.models import FitContext, model_class
    from trainer.models.combination import gazetteer_settings
    from trainer.training.data import load_fit_data
    from trainer.training.fit import fit_model
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear"},
            "task": {"targets": [{"name": "topics"}, {"name": "regions", "gazetteer": True}]},
            "output": {"dir": str(tmp_path), "name": "fit"}}
    cfg = load_config(None, RunConfig, tree=tree)
    data = load_fit_data(cfg)
    kind = model_class("tfidf-linear")
    assert "gazetteer" not in kind.fit(FitContext(cfg, data, tmp_path)).model.spec.settings   # the kind: heads only
    fitted = fit_model(kind, FitContext(cfg, data, tmp_path))
    assert fitted.model.spec.settings["gazetteer"] == gazetteer_settings(data, cfg)
    assert list(fitted.model.spec.settings) == ["classifier", "gazetteer"]   # trainer.json's key order as before
    assert fitted.model.answer_spec.target("regions").labels == tuple(m49_labels("subregion"))
    assert fitted.model.score([KYRGYZ])["regions"].shape == (1, len(m49_labels("subregion")))
