"""``framelab serve`` under the requests of issue 42: a long article, odd JSON, a foreign page, a foreign Host.

The scheduling tests watch the forward passes of the tiny model (a forward
pre-hook of their own, after the batcher's): which request each pass
belongs to, in order, and how many passes run after a request timed out.
A pass can be held until the test has what it needs in place, so the order
is the same on every run, however loaded the machine.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from framelab.cli import main  # noqa: E402
from framelab.serve.app import ServeSettings, create_app, default_allowed_hosts  # noqa: E402

#: 200 sentences: 50 forward passes of 4 (``batch_size=4``); a short request is one sentence, one pass of 1.
LONG = " ".join(f"Sentence number {i} of the long article says little." for i in range(200))
SHORT = {"id": "short", "text": "A short request."}


def _wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _passes(app) -> tuple[list[str], list]:
    """A log of the model's forward passes ("long": 4 rows, "short": fewer), and the hooks holding a pass."""
    log: list[str] = []
    holds: list = []  # callables run inside a pass, before it computes, with the pass's number

    def record(module, args, kwargs) -> None:
        log.append("long" if kwargs["input_ids"].shape[0] == 4 else "short")
        for hold in holds:
            hold(len(log))

    model = app.state.batcher.predictors[0].model
    model.register_forward_pre_hook(record, with_kwargs=True)
    return log, holds


def test_a_short_request_waits_one_pass_of_a_long_article(tiny_classifier_dir: Path) -> None:
    app = create_app(ServeSettings(model_dirs=[str(tiny_classifier_dir)], batch_size=4))
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        log, holds = _passes(app)
        first_pass = threading.Event()

        def hold(number: int) -> None:
            # The long article's first pass, and its first after the first short request's, go on only once a
            # short request waits for its turn: each must then come right after that one pass.
            if log[-1] == "long" and (number == 1 or log[-2:] == ["short", "long"] and log.count("short") == 1):
                first_pass.set()
                turns = getattr(app.state.batcher, "turns", None)
                _wait_until(lambda: turns is not None and turns.in_line >= 1, 10)

        holds.append(hold)
        long = pool.submit(client.post, "/score", json={"id": "long", "text": LONG})
        assert first_pass.wait(10)
        shorts = [client.post("/score", json=SHORT) for _ in range(2)]
        assert [r.status_code for r in shorts] == [200, 200] and long.result().status_code == 200
        holds.clear()
        assert log.count("long") == 50 and log.count("short") == 2
        assert log[:5] == ["long", "short", "long", "short", "long"], log[:10]
        assert client.post("/score", json={"id": "long", "text": LONG}).json() == long.result().json()


def test_a_timed_out_request_is_not_computed_further(tiny_classifier_dir: Path) -> None:
    app = create_app(ServeSettings(model_dirs=[str(tiny_classifier_dir)], batch_size=4, timeout_s=1))
    with TestClient(app) as client:
        log, holds = _passes(app)
        timed_out = threading.Event()
        holds.append(lambda number: timed_out.wait(10) if number == 1 else None)
        response = client.post("/score", json={"id": "long", "text": LONG})
        assert response.status_code == 504
        timed_out.set()
        assert _wait_until(lambda: getattr(app.state.batcher.stats, "cancelled", 0) == 1, 5), f"{len(log)} passes"
        # The pass under way when the time ran out (none if the time ran out before it), and none of the other 49.
        assert log in ([], ["long"])
        holds.clear()
        assert client.post("/score", json=SHORT).status_code == 200
        assert client.get("/health").json()["cancelled"] == 1


def test_a_long_article_never_shares_a_job_with_short_ones(tiny_classifier_dir: Path) -> None:
    app = create_app(ServeSettings(model_dirs=[str(tiny_classifier_dir)], batch_wait_ms=1000))
    longer = {"id": "long", "text": LONG * 6}  # over 32,000 characters
    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda body: client.post("/score", json=body), [longer, SHORT]))
        assert [a.status_code for a in answers] == [200, 200]
        assert client.get("/health").json()["batches"] == 2


@pytest.fixture(scope="module")
def client(tiny_classifier_dir: Path):
    with TestClient(create_app(ServeSettings(model_dirs=[str(tiny_classifier_dir)]))) as c:
        yield c


def _post(client: TestClient, body: bytes, content_type: str | None = "application/json"):
    return client.post("/score", content=body, headers={"content-type": content_type} if content_type else {})


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 400, None),
        (
            b'{"text": "ok", "targets": ' + b"[" * 20 + b"]" * 20 + b"}",
            400,
            "targets" + "[0]" * 15,
        ),
        (b'{"text": "a lone \\ud800 half"}', 422, "text"),
        (b'[{"text": "ok"}, {"text": "ok", "id": "x\\udfff"}]', 422, "[1].id"),
        (b'{"text": "ok", "\\udc00": "x"}', 422, "\\udc00"),
        (b'{"text": "paired halves \\ud83d\\ude00 are one character"}', 200, None),
        (b'{"text": "ok", "id": ' + b"7" * 5000 + b"}", 422, "id"),
        (b"9" * 5000, 422, None),
    ],
    ids=[
        "nested-100000",
        "nested-20",
        "surrogate-text",
        "surrogate-id",
        "surrogate-key",
        "pair",
        "digits-id",
        "digits",
    ],
)
def test_odd_json_gets_a_clear_error(client: TestClient, body: bytes, status: int, field: str | None) -> None:
    response = _post(client, body)
    assert response.status_code == status, response.text
    if status != 200:
        assert set(response.json()) == {"error", "field"} and response.json()["field"] == field


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json; charset=latin-1",
    ],
)
def test_only_json_is_scored(client: TestClient, content_type: str | None) -> None:
    response = _post(client, b'{"text": "Sent by a page elsewhere."}', content_type)
    error = response.json()["error"]
    assert response.status_code == 415 and ("application/json" in error or "UTF-8" in error), response.text


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8"])
def test_json_is_scored(client: TestClient, content_type: str) -> None:
    assert _post(client, b'{"text": "Sent as JSON."}', content_type).status_code == 200


def test_a_foreign_host_is_refused(tiny_classifier_dir: Path) -> None:
    settings = ServeSettings(model_dirs=[str(tiny_classifier_dir)], allowed_hosts=default_allowed_hosts("127.0.0.1"))
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:
        assert c.post("/score", json=SHORT).status_code == 200
        assert c.get("/health", headers={"host": "localhost:8000"}).status_code == 200
        for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.attacker.example"):
            refused = c.post("/score", json=SHORT, headers={"host": host})
            assert refused.status_code == 400 and "--allowed-hosts" in refused.json()["error"], host
            assert refused.headers["x-content-type-options"] == "nosniff"
        assert c.get("/", headers={"host": "attacker.example"}).status_code == 400


def test_default_allowed_hosts() -> None:
    assert default_allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost"]
    assert default_allowed_hosts("localhost") == ["localhost", "127.0.0.1"]
    assert default_allowed_hosts("::1") == ["[::1]", "localhost", "127.0.0.1"]
    assert default_allowed_hosts("192.168.1.5") == ["192.168.1.5"]
    assert default_allowed_hosts("Scorer.Example.org") == ["scorer.example.org"]
    assert {"localhost", "127.0.0.1"} <= set(default_allowed_hosts("0.0.0.0"))


def test_serve_sets_the_allowed_hosts(
    tiny_classifier_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from framelab.serve import server

    started: list[ServeSettings] = []
    monkeypatch.setattr(server, "serve", started.append)
    model = ["serve", "--model", str(tiny_classifier_dir)]
    assert main(model) == 0 and started[-1].allowed_hosts == ["127.0.0.1", "localhost"]
    assert main([*model, "--allowed-hosts", "Example.org, *.example.org"]) == 0
    assert started[-1].allowed_hosts == ["example.org", "*.example.org"]
    with pytest.raises(SystemExit) as refused:
        main([*model, "--allowed-hosts", "ex*mple.org"])
    assert refused.value.code == 2 and "--allowed-hosts" in capsys.readouterr().err
