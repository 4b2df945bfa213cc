"""Evaluation operations: run an evaluation (progress per row), list and compare the stored runs, keep datasets."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from dbgpt_tools.evaluation.models import (
    Dataset,
    DatasetIn,
    DatasetList,
    EvaluationReport,
    EvaluationRequest,
    RunComparison,
    RunList,
)
from dbgpt_tools.evaluation.service import EvaluationService
from dbgpt_tools.operations.base import AnyOperation, NoArgs, Operation, Progress


async def run_evaluation(
    evaluation: EvaluationService, args: EvaluationRequest, progress: Progress | None = None
) -> EvaluationReport:
    """Run an evaluation to the end, reporting each row as progress; cancelling the call cancels the run."""

    async def rows_done(done: int, total: int) -> None:
        if progress is not None:
            await progress(done, total, f"{done} of {total} rows evaluated")

    return await evaluation.run(args, rows_done)


async def list_evaluation_runs(
    evaluation: EvaluationService, args: NoArgs, progress: Progress | None = None
) -> RunList:
    """The latest evaluation runs, with their aggregates."""
    return RunList(runs=await asyncio.to_thread(evaluation.runs.list))


class CompareArgs(BaseModel):
    """Two runs to compare."""

    first: int = Field(ge=1, description="The earlier run's id.")
    second: int = Field(ge=1, description="The later run's id.")


async def compare_evaluation_runs(
    evaluation: EvaluationService, args: CompareArgs, progress: Progress | None = None
) -> RunComparison:
    """Two runs' metric means side by side, with the difference."""
    return await asyncio.to_thread(evaluation.runs.compare, args.first, args.second)


async def save_evaluation_dataset(
    evaluation: EvaluationService, args: DatasetIn, progress: Progress | None = None
) -> Dataset:
    """Store a dataset to run again by name."""
    return await asyncio.to_thread(evaluation.datasets.create, args)


async def list_evaluation_datasets(
    evaluation: EvaluationService, args: NoArgs, progress: Progress | None = None
) -> DatasetList:
    """The stored datasets."""
    return DatasetList(datasets=await asyncio.to_thread(evaluation.datasets.list))


EVALUATION_OPERATIONS: tuple[AnyOperation, ...] = (
    Operation(
        name="run_evaluation",
        title="Run an evaluation",
        description="Score a knowledge space's retrieval (scene_key recall, scene_value the space) or an app's "
        "answers (scene_key app, scene_value the app code) on a dataset: datasets [{query, contexts, doc_name, "
        "expected_answer}] or a stored datasets_name; evaluate_metrics from DB-GPT's names (RetrieverHitRateMetric, "
        "RetrieverMRRMetric, RetrieverRecallMetric, RetrieverNDCGMetric, RetrieverSimilarityMetric, "
        "AnswerRelevancyMetric, AnswerFaithfulnessMetric, AnswerExactMatchMetric, AnswerContainsMetric). Returns "
        "each row's scores and the aggregate; the run is stored (compare_evaluation_runs).",
        args_model=EvaluationRequest,
        result_model=EvaluationReport,
        uses=lambda runtime: runtime.evaluation,
        run=run_evaluation,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="list_evaluation_runs",
        title="List evaluation runs",
        description="The latest evaluation runs with their status and aggregate scores.",
        args_model=NoArgs,
        result_model=RunList,
        uses=lambda runtime: runtime.evaluation,
        run=list_evaluation_runs,
    ),
    Operation(
        name="compare_evaluation_runs",
        title="Compare evaluation runs",
        description="Two evaluation runs' metric means side by side (say, before and after changing chunking).",
        args_model=CompareArgs,
        result_model=RunComparison,
        uses=lambda runtime: runtime.evaluation,
        run=compare_evaluation_runs,
    ),
    Operation(
        name="save_evaluation_dataset",
        title="Save evaluation dataset",
        description="Store a dataset (name, rows [{query, contexts, doc_name, expected_answer}]) to run by name.",
        args_model=DatasetIn,
        result_model=Dataset,
        uses=lambda runtime: runtime.evaluation,
        run=save_evaluation_dataset,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="list_evaluation_datasets",
        title="List evaluation datasets",
        description="The stored evaluation datasets.",
        args_model=NoArgs,
        result_model=DatasetList,
        uses=lambda runtime: runtime.evaluation,
        run=list_evaluation_datasets,
    ),
)
