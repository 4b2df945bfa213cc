"""`/api/v2/serve/awel/flows`: DB-GPT's flows in the result envelope (the list as a page `{items, total_count,
total_pages, page, page_size}`, filtered by `name` or `uid` as `list_flow` asks), addressed by `uid`; and
`/api/v2/serve/awel/nodes`, the operators a node may use."""

from __future__ import annotations

import asyncio
import re

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.errors import InvalidInput, validated
from dbgpt_tools.flows.models import Flow, FlowIn, FlowPage, FlowUid, FlowUpdate, OperatorList
from dbgpt_tools.flows.registry import FlowRegistry
from dbgpt_tools.flows.render import operator_catalogue
from server.api.v2.paging import PAGE, PAGE_SIZE, page_params
from server.openapi import Endpoint, Handler, Param
from server.requests import json_object, parse_body
from server.responses import envelope

BASE = "/api/v2/serve/awel/flows"
ITEM = BASE + "/{uid}"
NODES = "/api/v2/serve/awel/nodes"
UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
UID_ADAPTER: TypeAdapter[str] = TypeAdapter(FlowUid)


def _flows(request: Request) -> FlowRegistry:
    flows: FlowRegistry = request.app.state.runtime.flows
    return flows


def _uid(request: Request) -> str:
    """The path's `uid` (400 naming it when it is not one)."""
    uid: str = request.path_params["uid"]
    if not UID.fullmatch(uid):
        raise InvalidInput(f"uid must be a flow's uid (letters, digits, _ . -), got {uid[:40]!r}", field="uid")
    return uid


async def create_flow(request: Request) -> Response:
    body = await parse_body(request, FlowIn)
    return await envelope(await asyncio.to_thread(_flows(request).create, body))


async def update_flow(request: Request) -> Response:
    uid = _uid(request)
    body = await json_object(request)
    if body.get("uid") not in (None, uid):
        raise InvalidInput(f"the body's uid {str(body['uid'])[:64]!r} is not the path's {uid!r}", field="uid")
    update = validated(FlowUpdate, {**body, "uid": uid})
    return await envelope(await asyncio.to_thread(_flows(request).update, update))


async def delete_flow(request: Request) -> Response:
    return await envelope(await asyncio.to_thread(_flows(request).delete, _uid(request)))


async def get_flow(request: Request) -> Response:
    return await envelope(await asyncio.to_thread(_flows(request).get, _uid(request)))


async def list_flows(request: Request) -> Response:
    params = page_params(request, "name", "uid")
    return await envelope(await asyncio.to_thread(_flows(request).page, **params))


async def list_operators(request: Request) -> Response:
    return await envelope(operator_catalogue().operators)


FLOW_UID = Param("uid", "path", UID_ADAPTER.json_schema(), "The flow's uid.")
NAME_FILTER = Param("name", "query", {"type": "string", "maxLength": 128}, "Only the flow with this name.")
UID_FILTER = Param("uid", "query", UID_ADAPTER.json_schema(), "Only the flow with this uid.")
CHECKED = "its graph is checked: a bad node is a 400 naming it"
FLOW_ROUTES: list[tuple[Endpoint, Handler]] = [
    (Endpoint("POST", BASE, f"Create a flow ({CHECKED})", body=FlowIn, response=Flow, enveloped=True), create_flow),
    (
        Endpoint("PUT", ITEM, f"Update a flow ({CHECKED})", (FLOW_UID,), FlowUpdate, response=Flow, enveloped=True),
        update_flow,
    ),
    (
        Endpoint(
            "GET",
            BASE,
            "List flows, built-in first (data: items, total_count, total_pages, page, page_size)",
            params=(PAGE, PAGE_SIZE, NAME_FILTER, UID_FILTER),
            response=FlowPage,
            enveloped=True,
        ),
        list_flows,
    ),
    (Endpoint("GET", ITEM, "Get a flow", params=(FLOW_UID,), response=Flow, enveloped=True), get_flow),
    (Endpoint("DELETE", ITEM, "Delete a flow", params=(FLOW_UID,), response=Flow, enveloped=True), delete_flow),
    (
        Endpoint("GET", NODES, "The operators a flow's nodes may use", response=OperatorList, enveloped=True),
        list_operators,
    ),
]
