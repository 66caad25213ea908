"""``framelab serve`` through Starlette's test client: every endpoint, every error, and the records of
``framelab score``."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

import httpx  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from framelab.cli import main  # noqa: E402
from framelab.serve import batcher as batcher_module  # noqa: E402
from framelab.serve.app import CSP, ServeSettings, create_app  # noqa: E402
from framelab.serve.server import check_binding, is_loopback  # noqa: E402

ARTICLES = {
    "a1": "Only a fool would trust this disastrous plan. The council met on Tuesday.\n\nResidents were told to wait.",
    "a2": "A line.\nAnother line with <b>markup</b> & an ampersand.",
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_classifier_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("serve") / "sample-techniques"
    shutil.copytree(tiny_classifier_dir, folder)
    (folder / "dev_metrics.json").write_text(
        json.dumps(
            {
                "at_tuned_thresholds": {"micro": {"f1": 0.5}, "macro": {"f1": 0.25}},
                "at_0.5": {"micro": {"f1": 0.4}, "macro": {"f1": 0.2}},
            }
        ),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def stance_dir(tmp_path_factory: pytest.TempPathFactory, tiny_classifier_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("serve-stance") / "sample-stance"
    shutil.copytree(tiny_classifier_dir, folder)
    meta = json.loads((folder / "framelab.json").read_text(encoding="utf-8"))
    meta.update(task="stance", unit="article", labels=["against", "favor", "none"])
    (folder / "framelab.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def client(model_dir: Path):
    with TestClient(create_app(ServeSettings(model_dirs=[str(model_dir)], max_body_bytes=4096, max_articles=4))) as c:
        yield c


def _cli_lines(model_dirs: list[Path], articles: list[dict], tmp_path: Path, *extra: str) -> list[str]:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    models = [arg for d in model_dirs for arg in ("--model", str(d))]
    assert main(["score", *models, str(inputs), "--out", str(out), "--quiet", "--split-workers", "1", *extra]) == 0
    return out.read_text(encoding="utf-8").splitlines()


def _normal(records: list[dict]) -> list[str]:
    """Each record as sorted-key JSON, its ``source`` dropped: the CLI names the input file and line, a request
    has none (null)."""
    return [
        json.dumps({k: v for k, v in r.items() if k != "source"}, sort_keys=True, ensure_ascii=False) for r in records
    ]


def test_score_gives_the_records_framelab_score_writes(client: TestClient, model_dir: Path, tmp_path: Path) -> None:
    articles = [{"id": k, "text": v} for k, v in ARTICLES.items()]
    written = [json.loads(line) for line in _cli_lines([model_dir], articles, tmp_path)]
    served = client.post("/score", json=articles)
    assert served.status_code == 200 and served.headers["content-type"].startswith("application/json")
    assert _normal(served.json()) == _normal(written)
    assert all(r["source"] is None for r in served.json() if r["type"] == "article")
    lines = client.post("/score?format=jsonl", json=articles).text.splitlines()
    assert _normal([json.loads(x) for x in lines]) == _normal(written)
    one = client.post("/score", json=articles[0]).json()
    assert _normal(one) == _normal([r for r in written if r["article_id"] == "a1"])


def test_a_title_is_scored_as_the_first_line(client: TestClient, model_dir: Path, tmp_path: Path) -> None:
    written = _cli_lines([model_dir], [{"id": "t", "text": "A headline\n\n" + ARTICLES["a1"]}], tmp_path)
    served = client.post("/score", json={"id": "t", "title": "A headline", "text": ARTICLES["a1"]}).json()
    assert _normal(served) == _normal([json.loads(x) for x in written])


def test_ids_default_to_positions(client: TestClient) -> None:
    records = client.post("/score", json=[{"text": "One text."}, {"text": "Two texts."}]).json()
    assert [r["article_id"] for r in records if r["type"] == "article"] == ["0", "1"]


def test_html_view_escapes_the_article(client: TestClient) -> None:
    response = client.post(
        "/score?format=html",
        json={"id": "x<y", "text": "Hello <script>alert(1)</script> world. <img src=x onerror=alert(2)>"},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "x&lt;y" in page
    assert response.headers["content-security-policy"] == CSP


def test_page_and_its_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP and page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/static/page.js" defer></script>' in page.text
    assert page.text.count("<script") == 1 and "http://" not in page.text and "https://" not in page.text
    script = client.get("/static/page.js")
    assert (
        script.status_code == 200
        and script.headers["content-type"].startswith("text/javascript")
        and "/score?format=html" in script.text
    )
    assert client.get("/static/page.css").status_code == 200
    for name in ("../app.py", "index.html", "%2e%2e%2fapp.py", "nope.js"):
        missing = client.get(f"/static/{name}")
        assert missing.status_code == 404 and "error" in missing.json()


def test_health_models_and_openapi(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"] == ["sample-techniques"] and health["queue_limit"] == 64
    models = client.get("/models").json()["models"]
    assert models[0]["labels"] == ["a", "b", "c"] and models[0]["thresholds"] == [0.5, 0.5, 0.5]
    assert models[0]["task"] == "techniques" and models[0]["base_model"] and models[0]["takes_target"] is False
    assert {m["name"]: m["value"] for m in models[0]["dev_metrics"]} == {
        "dev micro-F1 (thresholds tuned on dev)": 0.5,
        "dev macro-F1 (thresholds tuned on dev)": 0.25,
    }
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.") and set(spec["paths"]) == {
        "/",
        "/score",
        "/health",
        "/models",
        "/openapi.json",
        "/docs",
    }
    assert {"400", "413", "422", "503", "504"} <= set(spec["paths"]["/score"]["post"]["responses"])


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b"\xff\xfe\x00b\x00i\x00n", 400, None),
        (b'"just a string"', 422, None),
        (b"[]", 422, None),
        (b"[1, 2]", 422, "[0]"),
        (b'{"text": 42}', 422, "text"),
        (b'{"id": "a"}', 422, "text"),
        (b'{"text": "ok", "id": 7}', 422, "id"),
        (b'{"text": "ok", "title": ["x"]}', 422, "title"),
        (b'{"text": "   \\n  "}', 422, "text"),
        (b'{"text": ""}', 422, "text"),
        (b'{"text": "PK\\u0003\\u0004\\u0000\\u0000binary"}', 422, "text"),
        (b'{"text": "ok", "id": "a\\tb"}', 422, "id"),
        (b'[{"text": "ok", "id": "a"}, {"text": "ok", "id": "a"}]', 422, "[1].id"),
        (b'{"text": "ok", "labels": ["x"]}', 422, "labels"),
        (b'{"text": "ok", "target": "carbon tax"}', 422, "target"),
        (b'[{"text": "ok"}, {"text": "ok", "targets": ["a", "b"]}]', 422, "[1].targets"),
        (b'{"text": "ok", "targets": "carbon tax"}', 422, "targets"),
        (b'[{"text": "1"}, {"text": "2"}, {"text": "3"}, {"text": "4"}, {"text": "5"}]', 413, None),
    ],
)
def test_bad_requests_get_clear_json_errors(client: TestClient, body: bytes, status: int, field: str | None) -> None:
    response = client.post("/score", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    problem = response.json()
    assert set(problem) == {"error", "field"} and problem["error"] and problem["field"] == field


def test_body_limit_and_other_errors(client: TestClient) -> None:
    big = client.post("/score", json={"text": "word " * 2000})
    assert big.status_code == 413 and "limit" in big.json()["error"]

    def chunks():  # no Content-Length: counted while it streams
        for _ in range(10):
            yield b" " * 1000

    streamed = client.post("/score", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert client.post("/score?format=xml", json={"text": "ok"}).json() == {
        "error": "unknown format 'xml'; choose one of json, jsonl, html",
        "field": "format",
    }
    assert client.get("/score").status_code == 405 and "error" in client.get("/score").json()
    assert client.get("/nowhere").status_code == 404 and "error" in client.get("/nowhere").json()


def test_stance_targets(stance_dir: Path, model_dir: Path, tmp_path: Path) -> None:
    with TestClient(create_app(ServeSettings(model_dirs=[str(model_dir), str(stance_dir)]))) as c:
        assert c.get("/models").json()["models"][1]["takes_target"] is True
        missing = c.post("/score", json={"text": "Taxes should rise."})
        assert missing.status_code == 422 and missing.json()["field"] == "target"
        bad = c.post("/score", json={"text": "Taxes should rise.", "targets": ["ok", 3]})
        assert bad.status_code == 422 and bad.json()["field"] == "targets[1]"
        served = c.post("/score", json={"id": "s", "text": ARTICLES["a1"], "targets": ["carbon tax", "rents"]}).json()
    per_target = [
        json.loads(line)
        for target in ("carbon tax", "rents")
        for line in _cli_lines(
            [model_dir, stance_dir], [{"id": "s", "text": ARTICLES["a1"]}], tmp_path, "--target", target
        )
    ]
    assert _normal(served) == _normal(per_target)
    assert [r["predictions"]["sample-stance"]["target"] for r in served if r["type"] == "article"] == [
        "carbon tax",
        "rents",
    ]


def test_a_bearer_token_guards_the_models(model_dir: Path) -> None:
    with TestClient(create_app(ServeSettings(model_dirs=[str(model_dir)], token="s3cret"))) as c:
        refused = c.post("/score", json={"text": "ok"})
        assert (
            refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer" and refused.json()["error"]
        )
        assert c.post("/score", json={"text": "ok"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/score", json={"text": "ok"}, headers={"Authorization": "Basic s3cret"}).status_code == 401
        assert c.get("/models").status_code == 401
        assert c.post("/score", json={"text": "ok"}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/models", headers={"Authorization": "bearer s3cret"}).status_code == 200
        assert (
            c.get("/").status_code == 200
            and c.get("/static/page.js").status_code == 200
            and c.get("/health").status_code == 200
        )


def test_loopback_only_without_a_token(
    model_dir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.5", "example.org"]))
    with pytest.raises(ValueError, match="token"):
        check_binding(ServeSettings(host="0.0.0.0"))
    check_binding(ServeSettings(host="0.0.0.0", token="t"))
    monkeypatch.delenv("FRAMELAB_SERVE_TOKEN", raising=False)
    assert main(["serve", "--model", str(model_dir), "--host", "0.0.0.0"]) == 2
    assert "--token" in capsys.readouterr().err


def test_nothing_is_written_to_disk(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in model_dir.iterdir())
    with TestClient(create_app(ServeSettings(model_dirs=[str(model_dir)]))) as c:
        for fmt in ("json", "jsonl", "html"):
            assert c.post(f"/score?format={fmt}", json={"text": ARTICLES["a1"]}).status_code == 200
    assert list(tmp_path.iterdir()) == [] and sorted(p.name for p in model_dir.iterdir()) == before


async def _gather(app, requests: list[dict]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        return await asyncio.gather(*(c.post("/score", json=body) for body in requests))


def test_concurrent_requests_share_a_forward_pass(model_dir: Path) -> None:
    app = create_app(ServeSettings(model_dirs=[str(model_dir)], batch_wait_ms=200))
    bodies = [{"id": f"c{i}", "text": f"Request number {i} arrives. It has two sentences."} for i in range(8)]

    async def run():
        await app.state.batcher.start()
        try:
            together = await _gather(app, bodies)
            alone = [(await _gather(app, [b]))[0] for b in bodies]
        finally:
            await app.state.batcher.stop()
        return together, alone

    together, alone = asyncio.run(run())
    stats = app.state.batcher.stats
    assert [r.status_code for r in together] == [200] * 8
    assert [r.json() for r in together] == [r.json() for r in alone]
    assert stats.largest_batch > 1 and stats.batches < 16


@pytest.fixture
def stalled(monkeypatch: pytest.MonkeyPatch):
    """``score_chunk`` held until the test releases it; ``started`` is set when a batch reaches it."""
    started, release = threading.Event(), threading.Event()
    real = batcher_module.score_chunk

    def held(*args, **kwargs):
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(batcher_module, "score_chunk", held)
    yield started, release
    release.set()


def test_a_full_queue_answers_503_with_retry_after(model_dir: Path, stalled) -> None:
    started, release = stalled
    app = create_app(ServeSettings(model_dirs=[str(model_dir)], queue_limit=2, max_batch=1))

    async def run():
        await app.state.batcher.start()
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                first = asyncio.create_task(c.post("/score", json={"text": "First."}))
                while not started.is_set():  # the first request is being scored, the queue is empty
                    await asyncio.sleep(0.01)
                waiting = [asyncio.create_task(c.post("/score", json={"text": f"Waiting {i}."})) for i in range(2)]
                while app.state.batcher.waiting < 2:
                    await asyncio.sleep(0.01)
                refused = await c.post("/score", json={"text": "One too many."})
                health = (await c.get("/health")).json()
                release.set()
                return refused, health, [await t for t in (first, *waiting)]
        finally:
            await app.state.batcher.stop()

    refused, health, served = asyncio.run(run())
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1" and "queue" in refused.json()["error"]
    assert health["waiting"] == 2 and health["refused"] == 1
    assert [r.status_code for r in served] == [200, 200, 200]


def test_a_slow_request_answers_504(model_dir: Path, stalled) -> None:
    started, release = stalled
    with TestClient(create_app(ServeSettings(model_dirs=[str(model_dir)], timeout_s=0.3))) as c:
        slow = c.post("/score", json={"text": "Slow."})
        assert slow.status_code == 504 and slow.json()["error"].startswith("not scored within 0.3 s")
        release.set()
        assert c.post("/score", json={"text": "Fast again."}).status_code == 200
        assert c.get("/health").json()["timed_out"] == 1


def test_the_server_starts_from_the_environment(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from framelab.serve.app import SETTINGS_ENV, TOKEN_ENV, from_environment

    monkeypatch.setenv(SETTINGS_ENV, json.dumps({"model_dirs": [str(model_dir)], "max_batch": 4}))
    monkeypatch.setenv(TOKEN_ENV, "tok")
    app = from_environment()
    assert app.state.settings.max_batch == 4 and app.state.settings.token == "tok"
    assert os.environ[TOKEN_ENV] == "tok"
