"""The page of ``framelab serve`` in headless Chromium: it loads, a pasted article comes back highlighted, and
an article's ``<script>`` runs nothing.

Chromium is driven from the command line (``--dump-dom`` after the page's
work, ``--screenshot``), no Selenium: the page scores the text in its
``#text=`` fragment at once, as if pasted and submitted. Skipped when no
Chromium is installed; CI installs Debian's ``chromium`` (``.ci/run``).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

from framelab.serve.app import ServeSettings, create_app  # noqa: E402

CHROMIUM = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (CI installs Debian's chromium)")

HOSTILE = (
    "Only a fool would trust this disastrous plan. "
    '<script>document.title = "pwned"; document.body.setAttribute("data-pwned", "script")</script> '
    "<img src=\"x\" onerror=\"document.body.setAttribute('data-pwned', 'img')\"> The council met on Tuesday."
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_classifier_dir: Path):
    """``framelab serve`` on an ephemeral port of 127.0.0.1, in a thread of this process."""
    folder = tmp_path_factory.mktemp("browser") / "sample-techniques"
    shutil.copytree(tiny_classifier_dir, folder)
    # The tiny model's head is random: thresholds of 0 make every unit carry every label, so the page's badges
    # are certain.
    meta = json.loads((folder / "framelab.json").read_text(encoding="utf-8"))
    meta["thresholds"] = [0.0] * len(meta["labels"])
    (folder / "framelab.json").write_text(json.dumps(meta), encoding="utf-8")
    app = create_app(ServeSettings(model_dirs=[str(folder)]))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(10)
    sock.close()


def _chromium(url: str, *args: str) -> str:
    command = [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=20000",
        *args,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _page(server: str, text: str) -> str:
    return f"{server}/#text={urllib.parse.quote(text)}"


def test_the_page_loads(server: str) -> None:
    dom = _chromium(server + "/", "--dump-dom")
    assert 'data-state="ready"' in dom and "<textarea" in dom
    assert "Models: sample-techniques (techniques)" in dom  # its script ran and asked /models


def test_a_pasted_article_comes_back_highlighted(server: str, tmp_path: Path) -> None:
    text = "Only a fool would trust this disastrous plan.\n\nThe council met on Tuesday. Residents were told to wait."
    dom = _chromium(_page(server, text), "--dump-dom")
    assert 'data-state="done"' in dom
    result = dom[dom.index('<main id="result">') :]
    assert result.count('<span class="unit"') == 3 and "Only a fool would trust this disastrous plan." in result
    assert 'class="badge"' in result and "Legend" in result
    shot = tmp_path / "page.png"
    _chromium(_page(server, text), f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000


def test_an_article_with_a_script_runs_nothing(server: str, tmp_path: Path) -> None:
    dom = _chromium(_page(server, HOSTILE), "--dump-dom")
    assert 'data-state="done"' in dom  # the page did its work
    head, result = dom.split('<main id="result">')
    body_tag = re.search(r"<body[^>]*>", head).group(0)
    assert body_tag == '<body data-state="done">'  # no data-pwned attribute: neither the script nor the onerror ran
    assert "<title>framelab</title>" in head and "pwned" not in head
    assert "<script" not in result and "<img" not in result
    assert "&lt;script&gt;document.title" in result and "&lt;img src=" in result
    _chromium(_page(server, HOSTILE), f"--screenshot={tmp_path / 'hostile.png'}", "--window-size=1200,900")
    assert (tmp_path / "hostile.png").is_file()
