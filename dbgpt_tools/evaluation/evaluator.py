"""Running an evaluation: each row's prediction (a space's retrieval, or an app's answer with its references),
then each metric on it; one list of results per row, and the aggregate per metric."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from dbgpt_tools.apps.registry import AppRegistry
from dbgpt_tools.chat.models import ChatMode, ChatRequest, ReferencesArtifact
from dbgpt_tools.chat.service import ChatService
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.evaluation.metrics import DEFAULT_METRICS, METRICS, Judges, Metric, Sample
from dbgpt_tools.evaluation.models import DatasetRow, EvaluationReport, EvaluationRequest, MetricResult, MetricSummary
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.llm.client import LLM

RowProgress = Callable[[int, int], Awaitable[None]]
"""Told (rows done, rows in all) before each row and at the end; it may raise to stop the run."""


class Evaluator:
    """Evaluates a knowledge space's retrieval (`recall`) or an app's answers (`app`)."""

    def __init__(self, knowledge: KnowledgeService, apps: AppRegistry, chat: ChatService, llm: LLM) -> None:
        self._knowledge = knowledge
        self._apps = apps
        self._chat = chat
        self._llm = llm

    def metrics(self, request: EvaluationRequest) -> list[Metric]:
        """The request's metrics, after checking its scene exists (404) and its metrics fit it (400)."""
        if request.scene_key == "recall":
            self._knowledge.spaces.resolve(request.scene_value)
        else:
            self._apps.get(request.scene_value)
        names = request.evaluate_metrics or DEFAULT_METRICS[request.scene_key]
        unknown = [name for name in names if name not in METRICS]
        if unknown:
            known = ", ".join(METRICS)
            raise InvalidInput(f"unknown metric {unknown[0][:64]!r}; known: {known}", field="evaluate_metrics")
        metrics = [METRICS[name] for name in dict.fromkeys(names)]
        if request.scene_key == "recall" and any(metric.kind == "answer" for metric in metrics):
            raise InvalidInput("answer metrics need scene_key app (recall only retrieves)", field="evaluate_metrics")
        return metrics

    async def evaluate(
        self,
        request: EvaluationRequest,
        metrics: list[Metric],
        rows: list[DatasetRow],
        progress: RowProgress | None = None,
    ) -> EvaluationReport:
        """Every row's results for `metrics` (as `metrics(request)` checked them) and the aggregate."""
        judges = Judges(self._knowledge.embedder, self._llm, request.context.prompt)
        results: list[list[MetricResult]] = []
        for done, row in enumerate(rows):
            if progress is not None:
                await progress(done, len(rows))
            started = time.perf_counter()
            sample = await self._predict(request, row)
            cost = round((time.perf_counter() - started) * 1000)
            results.append([await self._result(metric, sample, judges, cost) for metric in metrics])
        if progress is not None:
            await progress(len(rows), len(rows))
        return EvaluationReport(rows=results, aggregate=self._aggregate(metrics, results))

    async def _predict(self, request: EvaluationRequest, row: DatasetRow) -> Sample:
        if request.scene_key == "recall":
            retrieval = await asyncio.to_thread(
                self._knowledge.retriever.search,
                request.scene_value,
                row.query,
                top_k=request.context.top_k,
                mode=request.context.mode,
            )
            return Sample(row, retrieval.chunks, None)
        question = ChatRequest(
            messages=row.query, chat_mode=ChatMode.chat_app, chat_param=request.scene_value, temperature=0
        )
        answer = await self._chat.complete(question)
        references = [a for a in answer.artifacts if isinstance(a, ReferencesArtifact)]
        return Sample(row, references[0].chunks if references else [], answer.content)

    @staticmethod
    async def _result(metric: Metric, sample: Sample, judges: Judges, cost: int) -> MetricResult:
        score = await metric.compute(sample, judges)
        prediction = sample.answer if metric.kind == "answer" else [chunk.content for chunk in sample.chunks]
        return MetricResult(
            query=sample.row.query,
            prediction=prediction,
            contexts=sample.row.contexts,
            score=round(score.value, 6),
            passing=score.passing,
            metric_name=metric.name,
            prediction_cost=cost,
            raw_dataset=sample.row.model_dump(mode="json", exclude_none=True),
            feedback=score.feedback,
        )

    def _aggregate(self, metrics: list[Metric], results: list[list[MetricResult]]) -> list[MetricSummary]:
        summaries = []
        for index, metric in enumerate(metrics):
            column = [row[index] for row in results]
            summaries.append(
                MetricSummary(
                    metric_name=metric.name,
                    mean=round(sum(r.score for r in column) / len(column), 6) if column else 0.0,
                    passing=round(sum(r.passing for r in column) / len(column), 6) if column else 0.0,
                    rows=len(column),
                    judged_by=self._llm.model_name if metric.judged else None,
                )
            )
        return summaries
