"""The HTTP schema of ``framelab serve``, declared once: what a client sends and what it gets back.

Everything else is derived from these pydantic models:

- validation: :func:`framelab.serve.requests.parse_articles` validates each article of ``POST /score`` with
  :class:`Article` (its validators hold the friendly wording of each refusal) and names the field at fault;
- the OpenAPI document served at ``/openapi.json`` (:mod:`framelab.serve.openapi`), their JSON schemas under
  ``components/schemas``, and the ``/docs`` page drawn from that document;
- the tests, which hold live responses to :class:`ScoreResponse`, :class:`Health`, :class:`Models` and
  :class:`Error`.

The records themselves are built by ``framelab score``'s writer (:func:`framelab.score.writers.article_records`),
not through these models: the models describe them (no field unknown to them, ``extra="forbid"``), so a field
added there and not here fails the tests.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from framelab.readers.common import id_problem, is_empty_text

#: The pydantic error type of every refusal worded here; its message is the client's.
REFUSED = "refused"
#: C0 controls other than TAB, LF, VT, FF and CR, and DEL: what binary data decoded as text is full of.
BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
#: What ``POST /score?format=`` takes: the records as a JSON list (the default), as JSON Lines, or the HTML view.
Format = Literal["json", "jsonl", "html"]
FORMATS: tuple[str, ...] = get_args(Format)
#: Exact JSON types (no number read as a string), and no field these models do not name.
_EXACT = ConfigDict(extra="forbid", strict=True)


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError(REFUSED, "{message}", {"message": message})


def _plain(value: str) -> str:
    if BINARY.search(value):
        raise _refuse("text holds NUL or other control characters: it looks binary; send plain text")
    return value


def _not_empty(value: str) -> str:
    if is_empty_text(value):
        raise _refuse("text is empty")
    return value


def _usable_id(value: str) -> str:
    if (why := id_problem(value)) is not None:
        raise _refuse(why)
    return value


def _visible(value: str) -> str:
    if not value.strip() or BINARY.search(value):
        raise _refuse("a stance target must be visible text")
    return value


PlainText = Annotated[str, AfterValidator(_plain)]
ArticleId = Annotated[str, AfterValidator(_usable_id)]
Target = Annotated[str, AfterValidator(_visible)]

_EXAMPLE_ARTICLE = {
    "id": "a1",
    "title": "Council delays the vote",
    "text": "Only a fool would trust this disastrous plan. The council met on Tuesday.",
}


class Article(BaseModel):
    """One article to score: ``POST /score`` takes one, or a non-empty list of them."""

    model_config = ConfigDict(**_EXACT, json_schema_extra={"examples": [_EXAMPLE_ARTICLE]})

    id: ArticleId | None = Field(
        None,
        description="unique in the request; no TAB, newline or other control character, no surrounding whitespace; "
        "default: the article's position ('0', '1', …)",
    )
    title: PlainText | None = Field(
        None, description="scored as title + '\\n\\n' + text (offsets index that joined text)"
    )
    text: Annotated[PlainText, AfterValidator(_not_empty)] = Field(
        min_length=1,
        description="the article: not blank, no NUL or other control character besides TAB, LF, VT, FF, CR",
    )
    target: Target | None = Field(
        None, description="stance target (only when a stance model is loaded, and then required, or targets)"
    )
    targets: list[Target] | None = Field(
        None, min_length=1, description="several stance targets: the article is scored once per target"
    )

    @field_validator("targets", mode="before")
    @classmethod
    def _not_both(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and info.data.get("target") is not None:
            raise _refuse("give 'target' or 'targets', not both")
        return value

    def stance_targets(self) -> list[str | None]:
        """The targets the article is scored for, in order; ``[None]`` without one."""
        return list(self.targets) if self.targets is not None else [self.target]


class ScoreRequest(RootModel[Article | Annotated[list[Article], Field(min_length=1)]]):
    """The body of ``POST /score``: one article or a non-empty list of them."""


def _never_null(field: dict) -> None:
    field.update(next(s for s in field.pop("anyOf") if s.get("type") != "null"))
    field.pop("default", None)


def _absent(description: str) -> Any:
    """A field of a response that is left out, never sent as null, when it has no value."""
    return Field(None, description=description, json_schema_extra=_never_null)


class Span(BaseModel):
    """A predicted span: ``start``/``end`` index the unit's text (add the unit's ``start`` for article offsets)."""

    model_config = _EXACT
    start: int
    end: int
    label: str
    score: float
    text: str


class FrameEvidence(BaseModel):
    """A sentence that carries a predicted frame: ``start``/``end`` index the article text, ``weight`` is the
    model's attention on it (0–1)."""

    model_config = _EXACT
    frame: str
    start: int
    end: int
    weight: float
    text: str


class StanceEvidence(BaseModel):
    """A body sentence a stance model read for its stance: ``similarity`` to the target, ``rank`` by it (1 first)."""

    model_config = _EXACT
    start: int
    end: int
    similarity: float
    rank: int
    text: str


class Prediction(BaseModel):
    """One model's decision on a unit or an article; the optional fields appear only where the model gives them."""

    model_config = _EXACT
    task: str
    labels: list[str]
    scores: dict[str, float] = Field(description="each label's score (0–1)")
    target: str | None = _absent("the stance target (stance models)")
    spans: list[Span] | None = _absent("predicted spans (span models)")
    frame_evidence: list[FrameEvidence] | None = _absent("where each frame is (frames_attention)")
    stance_evidence: list[StanceEvidence] | None = _absent("what a stance was read from (fnc1)")


class UnitRecord(BaseModel):
    """A unit (sentence, line or window) of an article and each unit model's prediction on it."""

    model_config = _EXACT
    type: Literal["unit"]
    article_id: str
    unit: str = Field(description="the unit kind")
    index: int
    start: int = Field(description="offset of the unit in the article text")
    end: int
    line: int | None
    text: str
    predictions: dict[str, Prediction] = Field(description="keyed by model name")


class ArticleRecord(BaseModel):
    """An article, after its units: the article-level predictions."""

    model_config = _EXACT
    type: Literal["article"]
    article_id: str
    source: str | None = Field(description="null over HTTP (framelab score names the input file)")
    length: int = Field(description="characters in the scored text")
    units: int
    predictions: dict[str, Prediction] = Field(description="keyed by model name")


Record = Annotated[UnitRecord | ArticleRecord, Field(discriminator="type")]

_EXAMPLE_PREDICTION = {"task": "techniques", "labels": ["Name_Calling"], "scores": {"Name_Calling": 0.81}}
_EXAMPLE_RECORDS = [
    {
        "type": "unit",
        "article_id": "a1",
        "unit": "sentence",
        "index": 0,
        "start": 25,
        "end": 70,
        "line": 2,
        "text": "Only a fool would trust this disastrous plan.",
        "predictions": {"sample-techniques": _EXAMPLE_PREDICTION},
    },
    {
        "type": "article",
        "article_id": "a1",
        "source": None,
        "length": 99,
        "units": 2,
        "predictions": {},
    },
]


class ScoreResponse(RootModel[list[Record]]):
    """``POST /score`` as JSON: the records ``framelab score --format jsonl`` writes, each article's units, then the
    article (``?format=jsonl``: the same records, one a line)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_RECORDS]})


class Health(BaseModel):
    """``GET /health``: liveness, the queue and the batcher's counts since start."""

    model_config = _EXACT
    status: Literal["ok"]
    models: list[str]
    waiting: int = Field(description="requests waiting beyond the batch being scored")
    queue_limit: int
    requests: int
    articles: int
    batches: int
    largest_batch: int
    refused: int = Field(description="answered 503: the queue was full")
    timed_out: int = Field(description="answered 504")
    failed: int
    cancelled: int = Field(description="jobs stopped because every request in them was dropped")


class DevFigure(BaseModel):
    """A headline figure of a model on its dev set."""

    model_config = _EXACT
    type: str
    name: str
    value: float


class ModelInfo(BaseModel):
    """One loaded model."""

    model_config = _EXACT
    name: str
    task: str
    unit: str | None = Field(description="the unit the model scores; null for windowed models")
    article_level: bool
    multi_label: bool
    takes_target: bool = Field(description="a stance model: each article needs a target")
    labels: list[str]
    thresholds: list[float] | None
    base_model: str
    framelab_version: str
    dev_metrics: list[DevFigure]


class Models(BaseModel):
    """``GET /models``: the loaded models and this server's limits."""

    model_config = _EXACT
    models: list[ModelInfo]
    max_batch: int
    max_articles: int
    max_body_bytes: int


class Error(BaseModel):
    """Every refusal: what is wrong and how to put it right, and the field at fault (``[2].text``: the third
    article's text), if one is."""

    model_config = _EXACT
    error: str
    field: str | None
