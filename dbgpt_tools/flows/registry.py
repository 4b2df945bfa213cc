"""Flows in the metadata store, beside the built-in ones: create, update, delete (each graph checked at save time),
get, list, and the checked graph a chat turn runs. A stored flow that no longer checks (an operator was removed
in an upgrade) is listed as `load_failed` with the reason, and refused when run."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dbgpt_tools.errors import Conflict, DbgptError, NotFound, validated
from dbgpt_tools.flows.builtin import BUILTIN_FLOWS, SOURCE
from dbgpt_tools.flows.declarations import Operator
from dbgpt_tools.flows.graph import Graph, check_graph
from dbgpt_tools.flows.models import Flow, FlowDataIn, FlowIn, FlowList, FlowPage, FlowSummary, FlowUpdate
from dbgpt_tools.flows.operators import OPERATORS
from dbgpt_tools.flows.render import flow_data
from dbgpt_tools.knowledge.models import aware
from dbgpt_tools.store.lookup import check_page, refuse_taken_name
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import FlowRow

log = logging.getLogger(__name__)
BUILT = datetime(2026, 12, 2, tzinfo=UTC)
"""When the built-in flows were written (their creation and modification time)."""


class FlowRegistry:
    """Flows by `uid`: the built-in ones, then the stored ones by name; names are unique whatever their case."""

    def __init__(self, store: MetadataStore, operators: Mapping[str, Operator] = OPERATORS) -> None:
        self._store = store
        self._operators = operators

    def create(self, data: FlowIn | Mapping[str, Any]) -> Flow:
        """Check and save a new flow. A uid or name in use: Conflict; a bad graph: InvalidInput naming the node."""
        request = data if isinstance(data, FlowIn) else validated(FlowIn, data)
        graph = check_graph(request.flow_data, self._operators)
        uid = request.uid or str(uuid.uuid4())
        row = FlowRow(uid=uid, **_fields(request, graph))
        try:
            with self._store.session() as session:
                if uid in BUILTIN_FLOWS or session.get(FlowRow, uid) is not None:
                    raise Conflict(f"flow {uid!r} already exists", field="uid")
                self._refuse_taken_name(session, request.name, None)
                session.add(row)
                session.flush()
        except IntegrityError:
            raise Conflict(f"flow {request.name!r} already exists", field="name") from None
        log.info("flow %s created", uid)
        return self._served(row)

    def update(self, data: FlowUpdate | Mapping[str, Any]) -> Flow:
        """Check and replace a stored flow's fields (`uid` names it; the built-in ones cannot change)."""
        request = data if isinstance(data, FlowUpdate) else validated(FlowUpdate, data)
        uid = request.uid
        graph = check_graph(request.flow_data, self._operators)
        try:
            with self._store.session() as session:
                row = _stored(session, uid)
                self._refuse_taken_name(session, request.name, uid)
                for name, value in _fields(request, graph).items():
                    setattr(row, name, value)
                session.flush()
        except IntegrityError:
            raise Conflict(f"flow {request.name!r} already exists", field="name") from None
        return self._served(row)

    def delete(self, uid: str) -> Flow:
        """Remove a stored flow (its conversations stay)."""
        with self._store.session() as session:
            row = _stored(session, uid)
            session.delete(row)
        return self._served(row)

    def get(self, uid: str) -> Flow:
        """The flow with this uid."""
        if uid in BUILTIN_FLOWS:
            return self._builtin(uid)
        with self._store.session() as session:
            return self._served(_stored(session, uid, builtin_ok=True))

    def graph(self, uid: str) -> Graph:
        """The checked graph a run follows."""
        if uid in BUILTIN_FLOWS:
            return check_graph(BUILTIN_FLOWS[uid].flow_data, self._operators)
        with self._store.session() as session:
            stored = _stored(session, uid, builtin_ok=True).flow_data
        return check_graph(FlowDataIn.model_validate(stored), self._operators)

    def page(self, page: int = 1, page_size: int = 20, name: str | None = None, uid: str | None = None) -> FlowPage:
        """One page of the flows (built-in first, then stored ones by name), optionally only those with this name
        or uid."""
        check_page(page, page_size)
        builtin = [
            key
            for key, flow in BUILTIN_FLOWS.items()
            if (name is None or flow.name == name) and (uid is None or key == uid)
        ]
        query = select(FlowRow)
        if name is not None:
            query = query.where(FlowRow.name == name)
        if uid is not None:
            query = query.where(FlowRow.uid == uid)
        start = (page - 1) * page_size
        items = [self._builtin(key) for key in builtin[start : start + page_size]]
        with self._store.session() as session:
            stored = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(FlowRow.name).offset(max(0, start - len(builtin))).limit(page_size - len(items))
            ).all()
            items += [self._served(row) for row in rows]
        total = len(builtin) + stored
        pages = -(-total // page_size)
        return FlowPage(items=items, total_count=total, total_pages=pages, page=page, page_size=page_size)

    def summaries(self, limit: int = 1000) -> FlowList:
        """The first `limit` flows in short."""
        page = self.page(1, limit)
        flows = [
            FlowSummary(
                uid=flow.uid,
                name=flow.name,
                label=flow.label,
                description=flow.description,
                editable=flow.editable,
                state=flow.state,
                operators=[node.data.name for node in flow.flow_data.nodes] if flow.flow_data else [],
            )
            for flow in page.items
        ]
        return FlowList(flows=flows, total_count=page.total_count)

    def _builtin(self, uid: str) -> Flow:
        flow = BUILTIN_FLOWS[uid]
        graph = check_graph(flow.flow_data, self._operators)
        return _flow(_fields(flow, graph) | {"uid": uid, "source": SOURCE}, graph, None, BUILT, BUILT, editable=False)

    def _served(self, row: FlowRow) -> Flow:
        fields = {column: getattr(row, column) for column in _COLUMNS}
        created, updated = aware(row.created_at), aware(row.updated_at)
        try:
            graph = check_graph(FlowDataIn.model_validate(row.flow_data), self._operators)
        except DbgptError as error:
            return _flow(fields, None, error.message, created, updated, editable=True)
        return _flow(fields, graph, None, created, updated, editable=True)

    def _refuse_taken_name(self, session: Any, name: str, own_uid: str | None) -> None:
        taken = Conflict(f"flow {name!r} already exists (names are compared whatever their case)", field="name")
        if any(flow.name.lower() == name.lower() for flow in BUILTIN_FLOWS.values()):
            raise taken
        refuse_taken_name(session, FlowRow.uid, FlowRow.name, name, own_uid, taken)


_COLUMNS = ("uid", "name", "label", "description", "flow_category", "source", "source_url", "user_name", "sys_code")


def _fields(request: FlowIn, graph: Graph) -> dict[str, Any]:
    """A flow's stored columns; its graph in the form callers send, with every parameter value filled in."""
    nodes = [
        {
            "id": node.id,
            "width": node.width,
            "height": node.height,
            "position": node.position.model_dump(),
            "data": {"name": node.operator.name, "parameters": _parameter_values(node.parameters)},
        }
        for node in graph.nodes.values()
    ]
    edges = [dataclasses.asdict(edge) for edge in graph.edges]
    return {
        "name": request.name,
        "label": request.label or request.name,
        "description": request.description,
        "flow_category": request.flow_category,
        "source": request.source,
        "source_url": request.source_url,
        "user_name": request.user_name,
        "sys_code": request.sys_code,
        "flow_data": {"nodes": nodes, "edges": edges, "viewport": graph.viewport.model_dump()},
    }


def _parameter_values(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in values.items()]


def _flow(
    fields: dict[str, Any], graph: Graph | None, error: str | None, created: datetime, updated: datetime, editable: bool
) -> Flow:
    columns = {column: fields[column] for column in _COLUMNS}
    return Flow(
        **columns,
        dag_id=f"flow_dag_{fields['name']}_{fields['uid']}",
        flow_data=flow_data(graph) if graph is not None else None,
        state="deployed" if graph is not None else "load_failed",
        error_message=error,
        editable=editable,
        gmt_created=created.strftime("%Y-%m-%d %H:%M:%S"),
        gmt_modified=updated.strftime("%Y-%m-%d %H:%M:%S"),
    )


def _stored(session: Any, uid: str, builtin_ok: bool = False) -> FlowRow:
    if uid in BUILTIN_FLOWS and not builtin_ok:
        raise Conflict(f"flow {uid!r} is built in and cannot change; create a flow of your own from it", field="uid")
    row = session.get(FlowRow, uid)
    if row is None:
        raise NotFound(f"no flow {uid!r}", field="uid")
    assert isinstance(row, FlowRow)
    return row
