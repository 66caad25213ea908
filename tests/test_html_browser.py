"""The page of ``framelab score --format html`` in headless Chromium: every label tag shows, each summary
lists its article's labels, an article's script runs nothing.

Chromium is driven from the command line (``--dump-dom``, ``--screenshot``),
as in ``tests/test_serve_browser.py``. The page itself has no script; to
measure what the browser draws, the test loads a copy with one checking
script appended, which writes each tag's computed visibility into the DOM
it dumps. Skipped when no Chromium is installed; CI installs Debian's
``chromium`` (``.ci/run``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from framelab.score.scorer import score

from .conftest import SAMPLE

CHROMIUM = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (CI installs Debian's chromium)")

LABELS = ["a", "b", "c"]
HOSTILE = (
    "Only a fool would trust this disastrous plan. "
    '<script>document.title = "pwned"; document.body.setAttribute("data-pwned", "script")</script> '
    "<img src=\"x\" onerror=\"document.body.setAttribute('data-pwned', 'img')\"> The council met on Tuesday."
)
#: Appended to a copy of the page: records, for every tag, whether the browser draws it (and that scripts run at all).
CHECK = """<script>
const tags = [...document.querySelectorAll(".tag")];
const drawn = tags.filter((t) => {
  const s = getComputedStyle(t), box = t.getBoundingClientRect();
  return s.display !== "none" && s.visibility === "visible" && Number(s.opacity) > 0 &&
    box.width > 0 && box.height > 0 && parseFloat(s.fontSize) >= 8;
});
document.body.setAttribute("data-check", JSON.stringify({
  tags: tags.length, drawn: drawn.length, labels: [...new Set(drawn.map((t) => t.dataset.label))].sort()
}));
</script>"""


def _chromium(url: str, *args: str) -> str:
    command = [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=5000",
        *args,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, tiny_classifier_dir: Path) -> Path:
    """The sample corpus and a hostile article scored by the tiny classifier into one page."""
    folder = tmp_path_factory.mktemp("html-browser")
    model = folder / "sample-techniques"
    shutil.copytree(tiny_classifier_dir, model)
    # The tiny model's head is random: thresholds of 0 make every unit carry every label, so the tags are certain.
    meta = json.loads((model / "framelab.json").read_text(encoding="utf-8"))
    meta["thresholds"] = [0.0] * len(meta["labels"])
    (model / "framelab.json").write_text(json.dumps(meta), encoding="utf-8")
    hostile = folder / "hostile.txt"
    hostile.write_text(HOSTILE, encoding="utf-8")
    out = folder / "sample.html"
    score([model], [SAMPLE, hostile], fmt="html", out=out, progress=False)
    return out


def test_every_label_tag_is_drawn(page: Path, tmp_path: Path) -> None:
    checked = tmp_path / "checked.html"
    checked.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    dom = _chromium(checked.as_uri(), "--dump-dom")
    found = re.search(r"data-check=\"([^\"]*)\"", dom)
    assert found, "the checking script did not run"
    check = json.loads(found.group(1).replace("&quot;", '"'))
    units = len(re.findall(r'<span class="unit"', dom))
    assert check["tags"] == check["drawn"] == units * len(LABELS) and check["labels"] == LABELS


def test_tags_are_text_and_each_summary_lists_its_articles_labels(page: Path) -> None:
    dom = _chromium(page.as_uri(), "--dump-dom")
    articles = dom.split('<section class="article">')[1:]
    assert len(articles) == 59  # the 58 sample articles and the hostile one
    for article in articles:
        summary = article[article.index('<div class="summary">') :].split("</div>")[0]
        assert sorted(re.findall(r'class="badge" data-label="([^"]+)"[^>]*>\1 <small>×\d+</small>', summary)) == LABELS
        # The label is the tag's text, not only a title to hover.
        body = article[article.index('data-unit="sentence"') :]
        assert {
            label
            for label in LABELS
            if re.search(rf'<span class="tag" data-label="{label}"[^>]*>{label} <small>[01]\.\d\d</small>', body)
        } == set(LABELS)
    legend = dom[dom.index('<div class="legend">') : dom.index('<section class="article">')]
    assert re.findall(r'class="badge key-unit"[^>]*>([^<]+)<', legend) == LABELS


def test_an_articles_script_runs_nothing(page: Path, tmp_path: Path) -> None:
    checked = tmp_path / "checked.html"
    checked.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    dom = _chromium(checked.as_uri(), "--dump-dom")
    body_tag = re.search(r"<body[^>]*>", dom).group(0)
    assert (
        "data-check=" in body_tag and "data-pwned" not in body_tag
    )  # scripts run here, but neither the article's script nor its onerror did
    assert "<title>framelab predictions</title>" in dom and "pwned</title>" not in dom
    hostile = dom.split('<section class="article"><h2>hostile</h2>')[1]
    assert "<img" not in hostile and "&lt;script&gt;document.title" in hostile and "&lt;img src=" in hostile


def test_a_screenshot_is_drawn(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "sample.png"
    _chromium(page.as_uri(), f"--screenshot={shot}", "--window-size=1000,800")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
