"""Run configs: typed, validated, layered with extends and --set."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from framelab.config import EnsembleConfig, TrainConfig, describe, load_config
from framelab.errors import ConfigError
from framelab.models.folder import resolve_base_model

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_configs_load() -> None:
    for path in sorted((REPO / "configs").glob("*.yaml")):
        config = load_config(path)
        assert config.name == path.stem


def test_extends_and_overrides(tmp_path: Path) -> None:
    _write(tmp_path, "base.yaml", "data:\n  unit: line\ntrain:\n  epochs: 3\n")
    child = _write(tmp_path, "child.yaml", "extends: base.yaml\ntrain:\n  learning_rate: 2.0e-5\n")
    config = load_config(child, ["train.epochs=7", "model.base=/some/folder"])
    assert (config.data.unit, config.train.epochs, config.train.learning_rate) == ("line", 7.0, 2e-5)
    assert config.model.base == "/some/folder"
    assert config.model_dir == Path("models/child") and config.dataset_dir == Path("data/processed/child")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  lerning_rate: 0.1\n", "unknown key 'train.lerning_rate' (did you mean 'train.learning_rate'?)"),
        ("trian:\n  epochs: 1\n", "unknown key 'trian' (did you mean 'train'?)"),
        ("train:\n  epochs: many\n", "'train.epochs' must be float, got 'many'"),
        ("train:\n  batch_size: 2.5\n", "'train.batch_size' must be int"),
        ("data:\n  unit: paragraph\n", "'data.unit' must be one of sentence, line, article"),
        ("data:\n  dev_fraction: 1.5\n", "dev_fraction"),
        (
            "train:\n  unit_loss_weight: 1.0\n",
            "train.unit_loss_weight applies to token taggers (spans), not 'techniques'",
        ),
        ("train:\n  threshold_step: 0\n", "train.threshold_step must be within (0, 0.5], got 0"),
        ("train:\n  threshold_min_support: -1\n", "'train.threshold_min_support' must be 0 or more, got -1"),
        ("ensemble:\n  threshold_step: 0.7\n", "ensemble.threshold_step must be within (0, 0.5], got 0.7"),
        ("ensemble:\n  threshold_rule: by_eye\n", "'ensemble.threshold_rule' must be one of global, per_label"),
        ("ensemble:\n  thresold_step: 0.1\n", "unknown key 'ensemble.thresold_step' (did you mean"),
        ("ensemble:\n  models: [a, b]\n  weights: [1]\n", "ensemble.weights (--weight) must give one finite"),
        ("ensemble:\n  models: [a, b]\n  weights: [0, 0]\n", "not all zero; got [0, 0]"),
        ("train:\n  fold_seed: seven\n", "'train.fold_seed' must be"),
        ("- a list\n", "top level must be a mapping"),
    ],
)
def test_bad_configs_fail_with_the_key_name(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value) or "top level" in message


def test_exponent_without_dot_is_a_float(tmp_path: Path) -> None:
    path = _write(tmp_path, "lr.yaml", "train:\n  learning_rate: 1e-4\n")
    assert load_config(path, ["train.weight_decay=5e-3"]).train.learning_rate == 1e-4
    assert load_config(None, ["train.weight_decay=5e-3"]).train.weight_decay == 5e-3


def test_bad_override() -> None:
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(None, ["train.epochs"])
    with pytest.raises(ConfigError, match="unknown key 'train.epoch'"):
        load_config(None, ["train.epoch=3"])


def test_missing_base_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder"):
        resolve_base_model(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_base_model(str(tmp_path / "empty"))


def test_the_ensemble_section_shares_the_training_threshold_fields() -> None:
    train, ensemble = ({f.name: f for f in dataclasses.fields(cls)} for cls in (TrainConfig, EnsembleConfig))
    for name in ("threshold_rule", "threshold_min_support", "threshold_step"):
        assert ensemble[name].default == train[name].default
        assert ensemble[name].metadata == train[name].metadata


def test_every_field_is_documented() -> None:
    lines = describe()
    assert any(line.startswith("train.learning_rate = ") for line in lines)
    assert all(line.split(": ", 1)[1].strip() for line in lines)
