"""The evaluation service: runs an evaluation now (answering when it is done) or in the background (answering
with the run, whose progress and results are then read by id), stores every run with its scores, and keeps
datasets to run again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dbgpt_tools.errors import Conflict, DbgptError
from dbgpt_tools.evaluation.datasets import DatasetStore
from dbgpt_tools.evaluation.evaluator import Evaluator
from dbgpt_tools.evaluation.metrics import Metric
from dbgpt_tools.evaluation.models import DatasetRow, EvaluationReport, EvaluationRequest, EvaluationRun
from dbgpt_tools.evaluation.runs import RunStore

log = logging.getLogger(__name__)
Progress = Callable[[int, int], Awaitable[None]]


class Cancelled(Conflict):
    """The run was cancelled before it finished."""


class EvaluationService:
    """Evaluations, their stored runs and datasets."""

    def __init__(self, evaluator: Evaluator, datasets: DatasetStore, runs: RunStore) -> None:
        self.evaluator = evaluator
        self.datasets = datasets
        self.runs = runs
        self._background: dict[int, asyncio.Task[None]] = {}

    async def run(self, request: EvaluationRequest, progress: Progress | None = None) -> EvaluationReport:
        """Run an evaluation to the end (the caller's cancellation cancels the run); its report, with its run id."""
        run_id, metrics, rows = await self._begin(request)
        report = await self._execute(run_id, request, metrics, rows, progress)
        return report.model_copy(update={"run_id": run_id})

    async def start(self, request: EvaluationRequest) -> EvaluationRun:
        """Start an evaluation in the background (this process); the run, RUNNING."""
        run_id, metrics, rows = await self._begin(request)
        task = asyncio.create_task(self._background_run(run_id, request, metrics, rows))
        self._background[run_id] = task
        task.add_done_callback(lambda _: self._background.pop(run_id, None))
        return await asyncio.to_thread(self.runs.get, run_id)

    async def cancel(self, run_id: int) -> EvaluationRun:
        """Stop a run: at once when this process runs it, else (another worker's) after its current row."""
        run = await asyncio.to_thread(self.runs.cancel, run_id)
        task = self._background.get(run_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            run = await asyncio.to_thread(self.runs.get, run_id)
        return run

    async def _begin(self, request: EvaluationRequest) -> tuple[int, list[Metric], list[DatasetRow]]:
        """The checked request's run id, metrics and rows (its scene looked up once)."""
        rows = await asyncio.to_thread(self._rows, request)
        metrics = await asyncio.to_thread(self.evaluator.metrics, request)
        run_id = await asyncio.to_thread(self.runs.start, request, [metric.name for metric in metrics], len(rows))
        return run_id, metrics, rows

    def _rows(self, request: EvaluationRequest) -> list[DatasetRow]:
        if request.datasets:
            return request.datasets
        assert request.datasets_name is not None  # the request's validator made sure of it
        return self.datasets.rows(request.datasets_name)

    async def _execute(
        self,
        run_id: int,
        request: EvaluationRequest,
        metrics: list[Metric],
        rows: list[DatasetRow],
        progress: Progress | None,
    ) -> EvaluationReport:
        async def recorded(done: int, total: int) -> None:
            if await asyncio.to_thread(self.runs.progress, run_id, done):
                raise Cancelled(f"evaluation run {run_id} was cancelled after {done} of {total} rows")
            if progress is not None:
                await progress(done, total)

        try:
            report = await self.evaluator.evaluate(request, metrics, rows, recorded)
        except Cancelled as stop:
            await asyncio.to_thread(self.runs.fail, run_id, stop.message, "CANCELLED")
            raise
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.to_thread(self.runs.fail, run_id, "cancelled", "CANCELLED"))
            raise
        except DbgptError as error:
            await asyncio.to_thread(self.runs.fail, run_id, error.message)
            raise
        except Exception:
            await asyncio.to_thread(self.runs.fail, run_id, "internal error (see the server log)")
            raise
        await asyncio.to_thread(self.runs.finish, run_id, report)
        return report

    async def _background_run(
        self, run_id: int, request: EvaluationRequest, metrics: list[Metric], rows: list[DatasetRow]
    ) -> None:
        try:
            await self._execute(run_id, request, metrics, rows, None)
        except DbgptError:
            return  # recorded on the run
        except Exception:
            log.exception("evaluation run %s failed", run_id)

    async def close(self) -> None:
        """Cancel the background runs (they are recorded CANCELLED)."""
        tasks = list(self._background.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
