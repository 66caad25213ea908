"""A real Label Studio server on 127.0.0.1: a project with framelab's label config, framelab's pre-annotations
imported, accepted as annotations, exported and read back offset for offset (slow, opt-in).

The server is the ``label-studio`` package, installed apart from framelab (it pins many packages of its
own): ``python3 -m venv /work/lsvenv && /work/lsvenv/bin/pip install label-studio``. The test finds its
executable in ``LABEL_STUDIO_BIN`` or as ``label-studio`` on PATH and skips without one; the SDK client is
framelab's own (``label-studio-sdk``). Run it with ``pytest -m slow tests/test_labelstudio_server.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from framelab.errors import ProblemLog
from framelab.readers.labelstudio import read_labelstudio

from .test_labelstudio import MODELS, TEXT, _scored, _spans_of, _write

pytestmark = pytest.mark.slow

TOKEN = "framelab-test-token-0123456789"
#: First start: Django migrates a fresh SQLite database, minutes on a busy 2-core machine.
START_TIMEOUT_S = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a Label Studio server started for this module, with the user token ``TOKEN``."""
    binary = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
    if not binary:
        pytest.skip("no Label Studio server: set LABEL_STUDIO_BIN or put label-studio on PATH")
    folder = tmp_path_factory.mktemp("label-studio")
    port = _free_port()
    env = os.environ | {
        "LABEL_STUDIO_USERNAME": "framelab@example.com",
        "LABEL_STUDIO_PASSWORD": "framelab-test-password",
        "LABEL_STUDIO_USER_TOKEN": TOKEN,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_BASE_DATA_DIR": str(folder),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    }
    command = [binary, "start", "--internal-host", "127.0.0.1", "--port", str(port), "--no-browser"]
    command += ["--data-dir", str(folder / "data"), "--enable-legacy-api-token", "--log-level", "WARNING"]
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Label Studio did not come up on {url} (exit {process.poll()}):\n{tail}")
            time.sleep(2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_pre_annotations_survive_a_real_label_studio_offset_for_offset(server: str, tmp_path: Path) -> None:
    from label_studio_sdk.client import LabelStudio

    results = [_scored("a1"), _scored("a2", "Short 🙂 one.\nA second line here.")]
    tasks, config = _write(tmp_path / "ls", *results, models=MODELS)
    client = LabelStudio(base_url=server, api_key=TOKEN)
    project = client.projects.create(title="framelab round trip", label_config=config)
    imported = client.projects.import_tasks(project.id, request=tasks)
    assert imported.task_count == 2
    # An annotator who accepts every pre-annotation as it is.
    for task in client.tasks.list(project=project.id):
        predictions = client.predictions.list(task=task.id)
        assert {p.model_version for p in predictions} == {p["model_version"] for p in tasks[0]["predictions"]}
        assert all(p.score is not None for p in predictions)
        result = [region for p in predictions for region in p.result]
        client.annotations.create(id=task.id, result=result, was_cancelled=False, ground_truth=False)
    export = tmp_path / "export.json"
    export.write_bytes(b"".join(client.projects.exports.download_sync(project.id, export_type="JSON")))
    exported = json.loads(export.read_text(encoding="utf-8"))
    assert [t["data"]["text"] for t in exported] == [TEXT, "Short 🙂 one.\nA second line here."]
    log = ProblemLog()
    articles = read_labelstudio(export, log=log)
    log.raise_if_any()
    assert log.warnings == []
    assert [a.id for a in articles] == ["a1", "a2"]
    for article, result in zip(articles, results):
        assert article.spans == _spans_of(result)
        assert [article.text[s.start : s.end] for s in article.spans] == [
            result.article.text[s.start : s.end] for s in _spans_of(result)
        ]
        assert (article.frames, article.genre, article.stance) == (["Economic", "Political"], "opinion", "against")
        assert article.stance_target == "the <plan>"
    assert articles[0].line_labels == {1: ["Doubt"], 3: [], 4: ["Doubt", "Loaded_Language"]}
