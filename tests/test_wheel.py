"""The built wheel, installed in a clean virtual environment, scores with a model folder (slow, opt-in:
``make test-slow``).

The clean environment holds only the wheel; its dependencies (torch and the
rest, 2 GB) are borrowed from the running environment through a ``.pth``
line, which adds their folder to ``sys.path`` without running the editable
install's hook, so ``framelab`` can only come from the wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow

PACKAGE_DATA = (
    "framelab/py.typed",
    "framelab/serve/static/page.js",
    "framelab/serve/static/index.html",
    "framelab/serve/templates/docs.html.j2",
    "framelab/metrics/technique_f1/technique_f1.py",
    *(f"framelab/score/templates/{name}" for name in ("page.html.j2", "article.html.j2", "pieces.html.j2")),
    "framelab/score/templates/page.css",
)


def _run(command: list, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def test_the_built_wheel_scores_from_a_clean_venv(tmp_path: Path, tiny_classifier_dir: Path) -> None:
    # Built from a copy, since setuptools writes build/ and *.egg-info/ beside the sources.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "framelab", source / "framelab", ignore=shutil.ignore_patterns("__pycache__"))
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            tmp_path / "dist",
            source,
        ],
        tmp_path,
    )
    wheel = next((tmp_path / "dist").glob("framelab-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(PACKAGE_DATA) <= names, set(PACKAGE_DATA) - names
    assert not any(name.startswith(("tests/", "bench/", "data/")) for name in names)

    venv = tmp_path / "clean"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel], tmp_path)
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).stdout.strip()
    )
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    where = _run([python, "-c", "import framelab; print(framelab.__file__)"], tmp_path).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    article = tmp_path / "article.txt"
    article.write_text("Only a fool would trust this disastrous plan. The council met on Tuesday.", encoding="utf-8")
    out = tmp_path / "scored.jsonl"
    _run([venv / "bin" / "framelab", "-q", "score", "--model", tiny_classifier_dir, "--out", out, article], tmp_path)
    units = [r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines()) if r["type"] == "unit"]
    assert len(units) == 2 and all(
        article.read_text(encoding="utf-8")[u["start"] : u["end"]] == u["text"] for u in units
    )
    # The HTML view is drawn from the templates the wheel carries.
    page = tmp_path / "scored.html"
    command = ["score", "--model", tiny_classifier_dir, "--format", "html", "--out", page, article]
    _run([venv / "bin" / "framelab", "-q", *command], tmp_path)
    assert page.read_text(encoding="utf-8").count('<section class="article">') == 1
