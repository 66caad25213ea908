"""The HTTP schema of ``framelab serve`` (:mod:`framelab.serve.schema`): one set of models from which the
validation, the OpenAPI document and the ``/docs`` page come, held to live responses.

``jsonschema`` is not a dependency, so the document's schemas are checked by :func:`schema_problems`, a
validator of the JSON Schema keywords pydantic writes that refuses any keyword it does not know (a
schema it cannot check fails the test rather than passing unread).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from framelab.score.records import FrameEvidence, Prediction, ScoredArticle, ScoredUnit, StanceEvidence  # noqa: E402
from framelab.score.writers import article_records  # noqa: E402
from framelab.serve import schema  # noqa: E402
from framelab.serve.app import ServeSettings, create_app  # noqa: E402
from framelab.serve.openapi import MODELS  # noqa: E402
from framelab.tagging import TaggedSpan  # noqa: E402
from framelab.types import Article, Unit  # noqa: E402

#: Keywords that only annotate a schema: nothing to check.
_ANNOTATIONS = {"title", "description", "default", "examples", "discriminator"}
_CHECKED = {"$ref", "anyOf", "oneOf", "type", "properties", "required", "additionalProperties", "items"}
_CHECKED |= {"enum", "const", "minLength", "minItems"}
_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def schema_problems(value: Any, node: dict, document: dict, where: str = "$") -> list[str]:
    """Where ``value`` breaks JSON schema ``node`` (its ``$ref`` resolved in ``document``); empty: nowhere."""
    unknown = set(node) - _ANNOTATIONS - _CHECKED
    assert not unknown, f"{where}: the test's validator does not know {sorted(unknown)}"
    if "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_problems(value, target, document, where)
    for key in ("anyOf", "oneOf"):
        if key in node:
            matches = [not schema_problems(value, option, document, where) for option in node[key]]
            if matches.count(True) != 1 and (key == "oneOf" or not any(matches)):
                return [f"{where}: {matches.count(True)} of the {key} options match"]
    kinds = node.get("type")
    if kinds is not None and not any(_TYPES[k](value) for k in ([kinds] if isinstance(kinds, str) else kinds)):
        return [f"{where}: {value!r} is not {kinds}"]
    if "enum" in node and value not in node["enum"] or "const" in node and value != node["const"]:
        return [f"{where}: {value!r} is not allowed"]
    problems = []
    if isinstance(value, str) and len(value) < node.get("minLength", 0):
        problems.append(f"{where}: too short")
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            problems.append(f"{where}: too few items")
        for n, item in enumerate(value):
            problems += schema_problems(item, node.get("items", {}), document, f"{where}[{n}]")
    if isinstance(value, dict):
        properties, extra = node.get("properties", {}), node.get("additionalProperties", True)
        problems += [f"{where}: no {key!r}" for key in node.get("required", []) if key not in value]
        for key, item in value.items():
            if key in properties:
                problems += schema_problems(item, properties[key], document, f"{where}.{key}")
            elif extra is False:
                problems.append(f"{where}: {key!r} is not a field")
            elif isinstance(extra, dict):
                problems += schema_problems(item, extra, document, f"{where}.{key}")
    return problems


def _answer_schema(document: dict, path: str, method: str, status: int) -> dict:
    return document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


@pytest.fixture(scope="module")
def stance_dir(tmp_path_factory: pytest.TempPathFactory, tiny_classifier_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("schema-stance") / "sample-stance"
    shutil.copytree(tiny_classifier_dir, folder)
    meta = json.loads((folder / "framelab.json").read_text(encoding="utf-8"))
    meta.update(task="stance", unit="article", labels=["against", "favor", "none"])
    (folder / "framelab.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def client(tiny_classifier_dir: Path, stance_dir: Path):
    settings = ServeSettings(model_dirs=[str(tiny_classifier_dir), str(stance_dir)], max_articles=4)
    with TestClient(create_app(settings)) as c:
        yield c


def test_the_document_holds_the_models_schemas(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    for model in MODELS:
        assert components[model.__name__]["title"] == model.__name__
    assert set(components["Article"]["properties"]) == set(schema.Article.model_fields)
    assert components["Article"]["required"] == ["text"] and components["Article"]["additionalProperties"] is False
    assert set(components["UnitRecord"]["properties"]) == set(schema.UnitRecord.model_fields)
    score = document["paths"]["/score"]["post"]
    assert score["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScoreRequest"
    }
    assert _answer_schema(document, "/score", "post", 200) == {"$ref": "#/components/schemas/ScoreResponse"}
    assert _answer_schema(document, "/health", "get", 200) == {"$ref": "#/components/schemas/Health"}
    assert _answer_schema(document, "/models", "get", 200) == {"$ref": "#/components/schemas/Models"}
    assert "$defs" not in json.dumps(document) and "``" not in json.dumps(document)
    # Every example the models carry is valid by its own schema and model.
    for name, node in components.items():
        for example in node.get("examples", []):
            assert schema_problems(example, node, document) == [], name
    schema.Article.model_validate(components["Article"]["examples"][0])
    schema.ScoreResponse.model_validate(components["ScoreResponse"]["examples"][0])


def test_a_live_score_response_matches_the_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = [
        {"id": "a1", "title": "A headline", "text": "Only a fool would trust this plan. It met.", "target": "tax"},
        {"text": "A second article.", "targets": ["rents", "tax"]},
    ]
    served = client.post("/score", json=body)
    assert served.status_code == 200
    records = served.json()
    assert {r["type"] for r in records} == {"unit", "article"}
    assert any("target" in p for r in records for p in r["predictions"].values())
    schema.ScoreResponse.model_validate(records)
    assert schema_problems(records, _answer_schema(document, "/score", "post", 200), document) == []
    lines = client.post("/score?format=jsonl", json=body).text.splitlines()
    assert (
        schema_problems([json.loads(x) for x in lines], {"$ref": "#/components/schemas/ScoreResponse"}, document) == []
    )
    # What the document refuses, its validator here refuses too: the check above can fail.
    wrong = [{**records[0], "article_id": 3}, {k: v for k, v in records[-1].items() if k != "units"}]
    wrong.append({**records[-1], "extra": 1})
    for record in wrong:
        assert schema_problems([record], {"$ref": "#/components/schemas/ScoreResponse"}, document), record


def test_the_other_answers_match_the_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    health, models = client.get("/health").json(), client.get("/models").json()
    schema.Health.model_validate(health)
    schema.Models.model_validate(models)
    assert schema_problems(health, _answer_schema(document, "/health", "get", 200), document) == []
    assert schema_problems(models, _answer_schema(document, "/models", "get", 200), document) == []
    for content, status in (
        (b"{", 400),
        (b'{"text": ""}', 422),
        (b"[" + b'{"text": "x"},' * 4 + b'{"text": "x"}]', 413),
    ):
        refused = client.post("/score", content=content, headers={"content-type": "application/json"})
        assert refused.status_code == status
        schema.Error.model_validate(refused.json())
        assert schema_problems(refused.json(), _answer_schema(document, "/score", "post", status), document) == []


def test_records_with_spans_and_evidence_match_the_models() -> None:
    text = "Only a fool would trust this plan. The council met on Tuesday."
    unit = Unit("a1", 0, 0, 34, text[:34], line=1)
    spans = Prediction("span_techniques", ["Name_Calling"], {"Name_Calling": 0.9}, spans=[TaggedSpan(7, 11, "X", 0.9)])
    frames = Prediction(
        "frames_attention", ["Economic"], {"Economic": 0.7}, evidence=[FrameEvidence("Economic", 0, 34, 1)]
    )
    stance = Prediction("fnc1", ["agree"], {"agree": 0.6}, "the plan", evidence=[StanceEvidence(35, 62, 0.5, 1)])
    scored = ScoredArticle(
        Article("a1", text), [ScoredUnit("sentence", unit, {"spans": spans})], {"frames": frames, "stance": stance}
    )
    records = article_records(scored)
    predictions = records[-1]["predictions"]
    assert {"frame_evidence", "stance_evidence", "target"} <= set(predictions["frames"]) | set(predictions["stance"])
    schema.ScoreResponse.model_validate(records)
    with pytest.raises(ValueError, match="Extra inputs"):
        schema.ScoreResponse.model_validate([{**records[0], "extra": 1}])


#: Bodies and the exact answer each gets, worded as before the schema was declared once.
WORDING = [
    (b'"just a string"', 422, "an article must be a JSON object with 'text', not a string", None),
    (b"[]", 422, "the list of articles is empty", None),
    (b"[1, 2]", 422, "an article must be a JSON object with 'text', not a number", "[0]"),
    (b'{"text": 42}', 422, "'text' must be a string, not a number", "text"),
    (b'{"id": "a"}', 422, "'text' is required", "text"),
    (b'{"id": 7, "title": 3}', 422, "'text' is required", "text"),
    (b'{"text": null, "target": "t"}', 422, "'text' is required", "text"),
    (b'{"text": "ok", "id": 7, "target": "t"}', 422, "'id' must be a string, not a number", "id"),
    (b'{"text": "ok", "title": ["x"]}', 422, "'title' must be a string, not a list", "title"),
    (b'{"text": "   \\n  "}', 422, "text is empty", "text"),
    (b'{"text": ""}', 422, "text is empty", "text"),
    (
        b'{"text": "PK\\u0003\\u0004\\u0000binary"}',
        422,
        "text holds NUL or other control characters: it looks binary; send plain text",
        "text",
    ),
    (b'{"text": "ok", "id": " a", "target": "t"}', 422, "article id ' a' starts or ends with whitespace", "id"),
    (
        b'[{"text": "ok", "id": "a", "target": "t"}, {"text": "ok", "id": "a", "target": "t"}]',
        422,
        "article id 'a' appears twice in this request",
        "[1].id",
    ),
    (
        b'[{"text": "ok", "target": "t"}, {"text": "ok", "lables": ["x"]}]',
        422,
        "unknown field 'lables'; an article has id, title, text, target, targets",
        "[1].lables",
    ),
    (b'{"text": "ok"}', 422, "a stance model is loaded: give the article a 'target' (or 'targets')", "target"),
    (
        b'{"text": "ok", "targets": "tax"}',
        422,
        "'targets' must be a non-empty list of strings, not a string",
        "targets",
    ),
    (b'{"text": "ok", "targets": []}', 422, "'targets' must be a non-empty list of strings, not a list", "targets"),
    (b'{"text": "ok", "targets": ["a", 3]}', 422, "a stance target must be a string, not a number", "targets[1]"),
    (b'{"text": "ok", "target": "  "}', 422, "a stance target must be visible text", "target"),
    (b'{"text": "ok", "target": "a", "targets": ["b"]}', 422, "give 'target' or 'targets', not both", "targets"),
    (
        b"[" + b'{"text": "x"},' * 4 + b'{"text": "x"}]',
        413,
        "5 articles in one request; the limit is 4: split the list",
        None,
    ),
]


@pytest.mark.parametrize(("body", "status", "error", "field"), WORDING)
def test_validation_errors_keep_their_wording(
    client: TestClient, body: bytes, status: int, error: str, field: str | None
) -> None:
    refused = client.post("/score", content=body, headers={"content-type": "application/json"})
    assert (refused.status_code, refused.json()) == (status, {"error": error, "field": field})


def test_unknown_fields_are_refused_naming_the_models_fields(client: TestClient) -> None:
    """Unknown fields are refused (422), as before, with the fields the model declares as the hint."""
    refused = client.post("/score", json={"text": "ok", "target": "t", "zeta": 1, "alpha": 2}).json()
    listed = refused["error"].split("an article has ")[1].split(", ")
    assert refused["field"] == "alpha" and listed == list(
        client.get("/openapi.json").json()["components"]["schemas"]["Article"]["properties"]
    )


def test_docs_is_a_page_of_the_document_with_nothing_from_elsewhere(tiny_classifier_dir: Path) -> None:
    with TestClient(create_app(ServeSettings(model_dirs=[str(tiny_classifier_dir)], token="s3cret"))) as c:
        page = c.get("/docs")
        document = c.get("/openapi.json").json()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    html = page.text
    assert "http://" not in html and "https://" not in html and "<script" not in html and " src=" not in html
    assert "@import" not in html and "url(" not in html
    links = re.findall(r'href="([^"]*)"', html)
    assert links and all(re.fullmatch(r"#[\w-]+|/[\w.]*", link) for link in links), links
    for path, operations in document["paths"].items():
        for method in operations:
            assert f'<span class="method">{method.upper()}</span> <code>{path}</code>' in html
    for name in document["components"]["schemas"]:
        assert f'<section id="schema-{name}">' in html
    assert "&#34;Council delays the vote&#34;" in html and "Only a fool would trust" in html
    assert '<a href="#schema-Article">Article</a>' in html and "<code>POST /score</code>" in html
