"""Evaluation datasets stored once and run again: given as rows, or read from a CSV file (a header row; `contexts`
and `chunk_ids` as JSON lists or one value) or a JSON-lines file (one row object per line)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dbgpt_tools.errors import Conflict, InvalidInput, NotFound, validated
from dbgpt_tools.evaluation.models import Dataset, DatasetIn, DatasetRow
from dbgpt_tools.knowledge.models import aware
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import EvalDatasetRow

MAX_FILE_BYTES = 20 * 1024 * 1024
_LISTS = ("contexts", "chunk_ids")


def parse_file(name: str, content: bytes) -> list[dict[str, Any]]:
    """A CSV or JSON-lines file's rows (by its extension); 400 naming the line at fault."""
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", field="file")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file must be UTF-8 text", field="file") from None
    if name.lower().endswith((".jsonl", ".ndjson", ".json")):
        return [_json_line(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if name.lower().endswith(".csv"):
        return [_csv_row(row) for row in csv.DictReader(io.StringIO(text))]
    raise InvalidInput("the file must be .csv or .jsonl", field="file")


def _json_line(number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"line {number} is not JSON: {error.msg}", field="file") from None
    if not isinstance(row, dict):
        raise InvalidInput(f"line {number} is not a JSON object", field="file")
    return row


def _csv_row(row: dict[str | Any, str | Any]) -> dict[str, Any]:
    out: dict[str, Any] = {str(key): value for key, value in row.items() if key is not None and value not in ("", None)}
    for key in _LISTS:
        value = out.get(key)
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError:
                raise InvalidInput(f"{key} must be a JSON list or one value, got {value[:60]!r}", field=key) from None
    if "doc_id" in out:
        out["doc_id"] = int(out["doc_id"]) if str(out["doc_id"]).isdigit() else out["doc_id"]
    return out


class DatasetStore:
    """Datasets by name."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def create(self, data: DatasetIn | Mapping[str, Any]) -> Dataset:
        """Store a dataset (a name in use: Conflict)."""
        request = data if isinstance(data, DatasetIn) else validated(DatasetIn, data)
        rows = [row.model_dump(mode="json", exclude_none=True) for row in request.data]
        try:
            with self._store.session() as session:
                stored = EvalDatasetRow(name=request.name, description=request.description, data=rows)
                session.add(stored)
                session.flush()
                return _dataset(stored, with_rows=False)
        except IntegrityError:
            raise Conflict(f"dataset {request.name!r} already exists", field="name") from None

    def rows(self, name: str) -> list[DatasetRow]:
        """A dataset's rows."""
        with self._store.session() as session:
            data = _stored(session, name).data
        return [DatasetRow.model_validate(row) for row in data]

    def get(self, name: str) -> Dataset:
        with self._store.session() as session:
            return _dataset(_stored(session, name), with_rows=True)

    def list(self) -> list[Dataset]:
        """Every dataset, by name (without its rows)."""
        with self._store.session() as session:
            rows = session.scalars(select(EvalDatasetRow).order_by(EvalDatasetRow.name).limit(1000)).all()
            return [_dataset(row, with_rows=False) for row in rows]

    def delete(self, name: str) -> Dataset:
        with self._store.session() as session:
            row = _stored(session, name)
            session.delete(row)
            return _dataset(row, with_rows=False)


def _stored(session: Any, name: str) -> EvalDatasetRow:
    row = session.scalar(select(EvalDatasetRow).where(EvalDatasetRow.name == name))
    if row is None:
        raise NotFound(f"no dataset {name!r}", field="datasets_name")
    assert isinstance(row, EvalDatasetRow)
    return row


def _dataset(row: EvalDatasetRow, *, with_rows: bool) -> Dataset:
    return Dataset(
        name=row.name,
        description=row.description,
        rows=len(row.data),
        created_at=aware(row.created_at),
        data=[DatasetRow.model_validate(item) for item in row.data] if with_rows else None,
    )
