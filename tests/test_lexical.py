"""The TF-IDF model: same numbers as scikit-learn, saved without pickle, and blended into a fine-tuned model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.errors import ConfigError, DataError
from framelab.eval.report import evaluate_model
from framelab.lexical import ARRAYS_FILE, VOCABULARY_FILE, LexicalModel
from framelab.models.predictor import Predictor
from framelab.train.run import train

TRAIN = [
    "The corrupt elite betrayed the hard-working people again.",
    "Officials published the budget figures on Tuesday.",
    "This disgraceful, shameful plan will destroy our nation.",
    "The council met to discuss road repairs.",
    "Only a fool would trust these corrupt liars.",
    "Rainfall was slightly above average in March.",
]
TARGETS = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 1]])
TEST = ["Corrupt liars run the council.", "Figures were published in March.", "Unseen words only."]


def test_probabilities_are_those_of_scikit_learn() -> None:
    model = LexicalModel.fit(TRAIN, TARGETS)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x_train = vectorizer.fit_transform(TRAIN)
    x_test = vectorizer.transform(TEST)
    assert np.abs(model.features(TEST) - x_test).max() < 1e-6
    for j in (0, 1):
        expected = (
            LogisticRegression(max_iter=2000, class_weight="balanced", random_state=0)
            .fit(x_train, TARGETS[:, j])
            .predict_proba(x_test)[:, 1]
        )
        np.testing.assert_allclose(model.probabilities(TEST)[:, j], expected, atol=1e-6)
    # A label present in every training text is certain; one never present would be impossible.
    assert model.probabilities(TEST)[:, 2].tolist() == [1.0, 1.0, 1.0]
    assert model.probabilities([]).shape == (0, 3)


def test_saved_as_json_and_safetensors_and_read_back(tmp_path: Path) -> None:
    model = LexicalModel.fit(TRAIN, TARGETS)
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [VOCABULARY_FILE, ARRAYS_FILE]
    again = LexicalModel.load(tmp_path)
    assert again.terms == model.terms
    np.testing.assert_array_equal(again.probabilities(TEST), model.probabilities(TEST))
    vocabulary = json.loads((tmp_path / VOCABULARY_FILE).read_text())
    (tmp_path / VOCABULARY_FILE).write_text(json.dumps({**vocabulary, "terms": vocabulary["terms"][:-1]}))
    with pytest.raises(DataError, match="do not match the vocabulary"):
        LexicalModel.load(tmp_path)
    (tmp_path / VOCABULARY_FILE).write_text(json.dumps({**vocabulary, "ngram_range": [1, 3]}))
    with pytest.raises(DataError, match="word n-grams"):
        LexicalModel.load(tmp_path)


def test_weight_is_checked_on_load() -> None:
    with pytest.raises(ConfigError, match="train.lexical_weight must be within"):
        load_config(None, ["train.lexical_weight=1.5"])
    with pytest.raises(ConfigError, match="not 'stance'"):
        load_config(None, ["train.task=stance", "train.lexical_weight=0.5"])


def test_blended_model_reports_and_scores_the_blend(tmp_path: Path, tiny_config: Callable) -> None:
    config = tiny_config(tmp_path, "techniques", **{"train.lexical_weight": 0.5})
    build_dataset(config)
    result = train(config)
    folder = result.model_dir
    assert {VOCABULARY_FILE, ARRAYS_FILE} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "framelab.json").read_text())["lexical_weight"] == 0.5
    assert "0.5 × a TF-IDF" in (folder / "README.md").read_text()
    dev = json.loads((folder / "dev_metrics.json").read_text())
    assert "fine_tuned_alone_at_0.5" in dev

    texts = ["Corrupt elites betray the people.", "The council met on Tuesday."]
    blended = Predictor(folder)
    fine_tuned = Predictor(folder)
    fine_tuned.lexical = None
    lexical = LexicalModel.load(folder)
    expected = 0.5 * fine_tuned.probabilities(texts) + 0.5 * lexical.probabilities(texts)
    np.testing.assert_allclose(blended.probabilities(texts), expected, atol=1e-12)

    # The report recomputes the dev figures saved at training time from the folder alone.
    report = evaluate_model(folder, tmp_path / "dataset", "dev", tmp_path / "report-blend")
    assert report.metrics["model"]["micro"]["f1"] == pytest.approx(dev["at_tuned_thresholds"]["micro"]["f1"])
    assert report.metrics["model_at_0.5"]["micro"]["f1"] == pytest.approx(dev["at_0.5"]["micro"]["f1"])

    (folder / ARRAYS_FILE).unlink()
    with pytest.raises(DataError, match="lexical.safetensors"):
        Predictor(folder)
