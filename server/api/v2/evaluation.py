"""`/api/v2/serve/evaluate`: DB-GPT's evaluation (`POST /evaluation`: `data` is one list of metric results per
dataset row, as `run_evaluation` reads it; `aggregate` and `run_id` ride beside `data`), its scenes, and our
additions: the metrics, background runs with progress and cancellation, comparison of two runs, stored
datasets (JSON rows, or a CSV / JSON-lines file)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from pydantic import RootModel, TypeAdapter
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.errors import InvalidInput, validated
from dbgpt_tools.evaluation.datasets import MAX_FILE_BYTES, parse_file
from dbgpt_tools.evaluation.metrics import DEFAULT_METRICS, METRICS
from dbgpt_tools.evaluation.models import (
    Dataset,
    DatasetIn,
    DatasetList,
    DatasetName,
    EvaluationRequest,
    EvaluationRun,
    MetricInfo,
    MetricList,
    ResultRows,
    RunComparison,
    RunList,
)
from dbgpt_tools.evaluation.service import EvaluationService
from dbgpt_tools.knowledge.models import KnowledgeId
from server.openapi import Endpoint, Handler, Param
from server.requests import capped, json_object, parse_body, path_id
from server.responses import envelope

BASE = "/api/v2/serve/evaluate"
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SCENES = [{"recall": "a knowledge space's retrieval"}, {"app": "an app's answers"}]


class Scenes(RootModel[list[dict[str, str]]]):
    """DB-GPT's evaluation scenes."""


def _service(request: Request) -> EvaluationService:
    service: EvaluationService = request.app.state.runtime.evaluation
    return service


def _name(request: Request) -> str:
    """The path's dataset name (400 naming it when it is not one)."""
    name: str = request.path_params["name"]
    if not DATASET_NAME.fullmatch(name):
        raise InvalidInput(f"name must be a dataset's name (letters, digits, _ . -), got {name[:40]!r}", field="name")
    return name


async def evaluation(request: Request) -> Response:
    body = await parse_body(request, EvaluationRequest)
    report = await _service(request).run(body)
    aggregate = [summary.model_dump(mode="json") for summary in report.aggregate]
    return await envelope(ResultRows(report.rows), extra={"aggregate": aggregate, "run_id": report.run_id})


async def scenes(request: Request) -> Response:
    return await envelope(SCENES)


async def metrics(request: Request) -> Response:
    infos = [MetricInfo(name=m.name, kind=m.kind, description=m.description, judged=m.judged) for m in METRICS.values()]
    return await envelope(MetricList(metrics=infos, defaults=DEFAULT_METRICS))


async def start_run(request: Request) -> Response:
    body = await parse_body(request, EvaluationRequest)
    return await envelope(await _service(request).start(body), status=202)


async def list_runs(request: Request) -> Response:
    return await envelope(RunList(runs=await asyncio.to_thread(_service(request).runs.list)))


async def get_run(request: Request) -> Response:
    return await envelope(await asyncio.to_thread(_service(request).runs.get, path_id(request, "run_id")))


async def cancel_run(request: Request) -> Response:
    return await envelope(await _service(request).cancel(path_id(request, "run_id")))


async def compare_runs(request: Request) -> Response:
    first, second = path_id(request, "run_id"), path_id(request, "other_id")
    return await envelope(await asyncio.to_thread(_service(request).runs.compare, first, second))


async def create_dataset(request: Request) -> Response:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    fields: dict[str, Any]
    if media == "multipart/form-data":
        form = await capped(request, MAX_FILE_BYTES + 64 * 1024).form(max_files=1, max_fields=32)
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        upload = form.get("file")
        if isinstance(upload, UploadFile):
            fields["data"] = parse_file(upload.filename or "", await upload.read())
        elif "data" in fields:
            fields["data"] = _json_field(fields["data"])
        else:
            raise InvalidInput("send the rows as a file field named file (.csv or .jsonl), or as data", field="file")
    else:
        fields = await json_object(request)
    dataset = validated(DatasetIn, fields)
    return await envelope(await asyncio.to_thread(_service(request).datasets.create, dataset))


def _json_field(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput("data must be a JSON list of rows", field="data") from None


async def list_datasets(request: Request) -> Response:
    return await envelope(DatasetList(datasets=await asyncio.to_thread(_service(request).datasets.list)))


async def get_dataset(request: Request) -> Response:
    return await envelope(await asyncio.to_thread(_service(request).datasets.get, _name(request)))


async def delete_dataset(request: Request) -> Response:
    return await envelope(await asyncio.to_thread(_service(request).datasets.delete, _name(request)))


RUN_ID = Param("run_id", "path", TypeAdapter(KnowledgeId).json_schema(), "The run's id.")
OTHER_ID = Param("other_id", "path", TypeAdapter(KnowledgeId).json_schema(), "The other run's id.")
NAME = Param("name", "path", TypeAdapter(DatasetName).json_schema(), "The dataset's name.")
RUNS, DATASETS = BASE + "/runs", BASE + "/datasets"
EVALUATION_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "POST",
            BASE + "/evaluation",
            "Run an evaluation now (data: one list of metric results per row; aggregate and run_id beside it)",
            body=EvaluationRequest,
            response=ResultRows,
            enveloped=True,
            upstream=True,
        ),
        evaluation,
    ),
    (Endpoint("GET", BASE + "/scenes", "DB-GPT's evaluation scenes", response=Scenes, enveloped=True), scenes),
    (
        Endpoint(
            "GET", BASE + "/metrics", "The metrics and each scene's defaults", response=MetricList, enveloped=True
        ),
        metrics,
    ),
    (
        Endpoint(
            "POST",
            RUNS,
            "Start an evaluation in the background (202: the run)",
            body=EvaluationRequest,
            response=EvaluationRun,
            enveloped=True,
            status=202,
        ),
        start_run,
    ),
    (Endpoint("GET", RUNS, "The latest runs (without their rows)", response=RunList, enveloped=True), list_runs),
    (
        Endpoint(
            "GET",
            RUNS + "/{run_id}",
            "A run: progress, and results when done",
            params=(RUN_ID,),
            response=EvaluationRun,
            enveloped=True,
        ),
        get_run,
    ),
    (
        Endpoint(
            "POST",
            RUNS + "/{run_id}/cancel",
            "Stop a run after its current row",
            params=(RUN_ID,),
            response=EvaluationRun,
            enveloped=True,
        ),
        cancel_run,
    ),
    (
        Endpoint(
            "GET",
            RUNS + "/{run_id}/compare/{other_id}",
            "Two runs' metrics side by side",
            params=(RUN_ID, OTHER_ID),
            response=RunComparison,
            enveloped=True,
        ),
        compare_runs,
    ),
    (
        Endpoint(
            "POST",
            DATASETS,
            "Store a dataset: JSON, or multipart with name and a .csv/.jsonl file (or data as JSON text)",
            body=DatasetIn,
            body_media=("application/json", "multipart/form-data"),
            response=Dataset,
            enveloped=True,
        ),
        create_dataset,
    ),
    (Endpoint("GET", DATASETS, "The stored datasets", response=DatasetList, enveloped=True), list_datasets),
    (
        Endpoint(
            "GET", DATASETS + "/{name}", "A dataset with its rows", params=(NAME,), response=Dataset, enveloped=True
        ),
        get_dataset,
    ),
    (
        Endpoint("DELETE", DATASETS + "/{name}", "Delete a dataset", params=(NAME,), response=Dataset, enveloped=True),
        delete_dataset,
    ),
]
