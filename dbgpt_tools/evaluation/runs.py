"""Evaluation runs in the metadata store: started RUNNING with their row count, their progress and heartbeat
written as they go, a cancel request any worker can make, and their results when done. A run whose heartbeat
went stale (its server stopped) reads as FAILED."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from dbgpt_tools.errors import Conflict, NotFound
from dbgpt_tools.evaluation.models import EvaluationReport, EvaluationRequest, EvaluationRun, RunComparison
from dbgpt_tools.knowledge.models import aware
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import EvalRunRow, utcnow

STALE_AFTER = timedelta(minutes=10)
"""A running run whose heartbeat is older than this was interrupted (a row takes seconds, even with an LLM)."""
INTERRUPTED = "interrupted: the server stopped while running it"


class RunStore:
    """Evaluation runs by id."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def start(self, request: EvaluationRequest, metrics: list[str], total: int) -> int:
        """Record a new RUNNING run; its id."""
        with self._store.session() as session:
            row = EvalRunRow(
                scene_key=request.scene_key,
                scene_value=request.scene_value,
                datasets_name=request.datasets_name,
                metrics=metrics,
                context=request.context.model_dump(mode="json"),
                total=total,
            )
            session.add(row)
            session.flush()
            return row.id

    def progress(self, run_id: int, done: int) -> bool:
        """Record progress (and a heartbeat); whether a cancel was requested."""
        with self._store.session() as session:
            session.execute(update(EvalRunRow).where(EvalRunRow.id == run_id).values(done=done, heartbeat_at=utcnow()))
            return bool(session.scalar(select(EvalRunRow.cancel_requested).where(EvalRunRow.id == run_id)))

    def finish(self, run_id: int, report: EvaluationReport) -> None:
        self._end(
            run_id,
            "FINISHED",
            aggregate=[summary.model_dump(mode="json") for summary in report.aggregate],
            results=[[result.model_dump(mode="json") for result in row] for row in report.rows],
        )

    def fail(self, run_id: int, error: str, status: str = "FAILED") -> None:
        self._end(run_id, status, error=error)

    def _end(self, run_id: int, status: str, **values: Any) -> None:
        with self._store.session() as session:
            session.execute(
                update(EvalRunRow)
                .where(EvalRunRow.id == run_id, EvalRunRow.status == "RUNNING")
                .values(status=status, heartbeat_at=utcnow(), **values)
            )

    def cancel(self, run_id: int) -> EvaluationRun:
        """Ask a running run to stop after its current row (Conflict when it is over)."""
        with self._store.session() as session:
            row = _stored(session, run_id)
            if _status(row) != "RUNNING":
                raise Conflict(f"evaluation run {run_id} is {_status(row)}, not running", field="run_id")
            row.cancel_requested = True
            session.flush()
            return _run(row, with_rows=False)

    def get(self, run_id: int) -> EvaluationRun:
        with self._store.session() as session:
            return _run(_stored(session, run_id), with_rows=True)

    def list(self, limit: int = 100) -> list[EvaluationRun]:
        """The latest runs first (without their rows)."""
        with self._store.session() as session:
            rows = session.scalars(select(EvalRunRow).order_by(EvalRunRow.id.desc()).limit(limit)).all()
            return [_run(row, with_rows=False) for row in rows]

    def compare(self, first: int, second: int) -> RunComparison:
        """Two runs' metrics side by side."""
        a, b = self.get(first), self.get(second)
        means_a = {s.metric_name: s.mean for s in a.aggregate}
        means_b = {s.metric_name: s.mean for s in b.aggregate}
        metrics = [
            {
                "metric_name": name,
                "first": means_a.get(name),
                "second": means_b.get(name),
                "difference": round(means_b[name] - means_a[name], 6) if name in means_a and name in means_b else None,
            }
            for name in dict.fromkeys([*means_a, *means_b])
        ]
        return RunComparison(first=first, second=second, metrics=metrics)


def _stored(session: Any, run_id: int) -> EvalRunRow:
    row = session.get(EvalRunRow, run_id)
    if row is None:
        raise NotFound(f"no evaluation run {run_id}", field="run_id")
    assert isinstance(row, EvalRunRow)
    return row


def _status(row: EvalRunRow) -> str:
    if row.status == "RUNNING" and utcnow() - aware(row.heartbeat_at) > STALE_AFTER:
        return "FAILED"
    return row.status


def _run(row: EvalRunRow, *, with_rows: bool) -> EvaluationRun:
    status = _status(row)
    return EvaluationRun.model_validate(
        {
            "id": row.id,
            "scene_key": row.scene_key,
            "scene_value": row.scene_value,
            "datasets_name": row.datasets_name,
            "evaluate_metrics": row.metrics,
            "context": row.context,
            "status": status,
            "done": row.done,
            "total": row.total,
            "error": INTERRUPTED if status != row.status else row.error,
            "aggregate": row.aggregate,
            "rows": row.results if with_rows else None,
            "created_at": aware(row.created_at),
            "updated_at": aware(row.updated_at),
        }
    )
