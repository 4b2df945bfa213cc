"""Evaluations as callers send and receive them, with DB-GPT's names: a request (`EvaluateServeRequest`:
`scene_key` recall or app, `scene_value`, `context`, `datasets` or a stored `datasets_name`, `evaluate_metrics`),
one list of metric results per dataset row (`EvaluationResult`), and our additions: the aggregate per metric,
stored datasets and runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel, model_validator

from dbgpt_tools.json_types import drop_nulls, null_means_absent
from dbgpt_tools.knowledge.models import SearchMode

Scene = Literal["recall", "app"]
DatasetName = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="A dataset's name."),
]
MAX_ROWS = 1000
ANSWER_KEYS = ("expected_answer", "factual", "answer", "ground_truth")
"""Where a row may give its expected answer (DB-GPT's evaluation files call it `factual`)."""


class DatasetRow(BaseModel):
    """One question of a dataset, and what a right result holds: `contexts` (expected passages), the document
    (`doc_name` or `doc_id`) or chunks (`chunk_ids`) they come from, and an expected answer."""

    model_config = ConfigDict(extra="allow", json_schema_extra=null_means_absent)

    query: str = Field(min_length=1, max_length=10_000)
    contexts: list[Annotated[str, Field(max_length=100_000)]] = Field(default_factory=list, max_length=100)
    doc_name: str | None = Field(default=None, max_length=256)
    doc_id: int | None = None
    chunk_ids: list[Annotated[str, Field(max_length=128)]] | None = Field(default=None, max_length=100)
    expected_answer: str | None = Field(default=None, max_length=100_000)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = drop_nulls(data)
        if isinstance(data.get("contexts"), str):
            data["contexts"] = [data["contexts"]]
        for key in ANSWER_KEYS[1:]:
            if "expected_answer" not in data and isinstance(data.get(key), str):
                data["expected_answer"] = data[key]
        return data


class EvaluationContext(BaseModel):
    """How the scene runs: retrieval's `top_k` and mode (recall), the judge's prompt and model name (reported)."""

    model_config = ConfigDict(extra="ignore")

    top_k: int = Field(default=5, ge=1, le=100)
    mode: SearchMode = SearchMode.hybrid
    prompt: str | None = Field(default=None, max_length=20_000, description="The judge's prompt, if not ours.")


def _rows_or_name(schema: dict[str, Any]) -> None:
    """The JSON schema says what the validator checks: rows, or the name of a stored dataset."""
    schema["anyOf"] = [
        {"required": [name], "properties": {name: {"type": kind}}}
        for name, kind in (("datasets", "array"), ("datasets_name", "string"))
    ]
    schema["properties"]["datasets"]["anyOf"][0]["minItems"] = 1
    null_means_absent(schema)


class EvaluationRequest(BaseModel):
    """An evaluation to run (DB-GPT's `EvaluateServeRequest`; its other fields are accepted and ignored)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_rows_or_name)

    scene_key: Scene = Field(description="`recall` (a knowledge space's retrieval) or `app` (an app's answers).")
    scene_value: str = Field(min_length=1, max_length=256, description="The space (name or id) or the app code.")
    context: EvaluationContext = Field(default_factory=EvaluationContext)
    datasets: list[DatasetRow] | None = Field(default=None, max_length=MAX_ROWS)
    datasets_name: DatasetName | None = Field(default=None, description="A stored dataset to run instead.")
    evaluate_metrics: list[str] | None = Field(default=None, max_length=20, description="Metric names.")

    _nulls = model_validator(mode="before")(drop_nulls)

    @model_validator(mode="after")
    def _has_rows(self) -> EvaluationRequest:
        if not self.datasets and self.datasets_name is None:
            raise ValueError("the dataset is empty: send datasets (rows) or datasets_name")
        return self


class MetricResult(BaseModel):
    """One metric on one row, as DB-GPT returns it (`EvaluationResult`)."""

    query: str
    prediction: JsonValue = Field(description="What was judged: the retrieved chunks' texts, or the answer.")
    contexts: list[str] | None
    score: float
    passing: bool
    metric_name: str
    prediction_cost: int = Field(description="Milliseconds spent making the prediction.")
    raw_dataset: dict[str, JsonValue]
    feedback: str | None = None


class MetricSummary(BaseModel):
    """A metric over every row: the mean score, the share passing, and who judged (LLM-judged metrics)."""

    metric_name: str
    mean: float
    passing: float
    rows: int
    judged_by: str | None = None


class EvaluationReport(BaseModel):
    """An evaluation's results: one list of metric results per row, and the aggregate per metric."""

    run_id: int | None = Field(default=None, description="The stored run (compare it with another).")
    rows: list[list[MetricResult]]
    aggregate: list[MetricSummary]


RunStatus = Literal["RUNNING", "FINISHED", "FAILED", "CANCELLED"]


class EvaluationRun(BaseModel):
    """A stored evaluation run: what ran, how far it got, and (when done) its report."""

    id: int
    scene_key: str
    scene_value: str
    datasets_name: str | None
    evaluate_metrics: list[str]
    context: dict[str, JsonValue]
    status: RunStatus
    done: int
    total: int
    error: str | None
    aggregate: list[MetricSummary]
    rows: list[list[MetricResult]] | None = Field(default=None, description="Left out of lists.")
    created_at: datetime
    updated_at: datetime


class RunComparison(BaseModel):
    """Two runs side by side: each metric's mean in both and the difference (second minus first)."""

    first: int
    second: int
    metrics: list[dict[str, JsonValue]]


class Dataset(BaseModel):
    """A stored dataset."""

    name: str
    description: str
    rows: int
    created_at: datetime
    data: list[DatasetRow] | None = Field(default=None, description="Left out of lists.")


class DatasetIn(BaseModel):
    """A dataset to store: its rows (or a CSV / JSON-lines file on REST)."""

    model_config = ConfigDict(extra="ignore")

    name: DatasetName
    description: str = Field(default="", max_length=4096)
    data: list[DatasetRow] = Field(min_length=1, max_length=MAX_ROWS)


class RunList(BaseModel):
    """Evaluation runs, the latest first (without their rows)."""

    runs: list[EvaluationRun]


class DatasetList(BaseModel):
    """The stored datasets (without their rows)."""

    datasets: list[Dataset]


class MetricInfo(BaseModel):
    """A metric this server computes."""

    name: str
    kind: Literal["retrieval", "answer"]
    description: str
    judged: bool


class MetricList(BaseModel):
    """Every metric, and the defaults per scene."""

    metrics: list[MetricInfo]
    defaults: dict[str, list[str]]


class ResultRows(RootModel[list[list[MetricResult]]]):
    """One list of metric results per dataset row, as DB-GPT's `run_evaluation` reads them."""
