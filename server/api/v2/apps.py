"""`/api/v2/serve/apps`: DB-GPT's apps in the result envelope (the list as `{app_list, total_count, total_page,
current_page}`, as DB-GPT's client reads it); apps are addressed by `app_code`."""

from __future__ import annotations

import asyncio
import re

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.apps.models import App, AppCode, AppIn, AppPage, AppUpdate
from dbgpt_tools.apps.registry import AppRegistry
from dbgpt_tools.errors import InvalidInput
from server.api.v2.paging import PAGE, PAGE_SIZE, page_params
from server.openapi import Endpoint, Handler, Param
from server.requests import parse_body
from server.responses import envelope

BASE = "/api/v2/serve/apps"
APP_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _apps(request: Request) -> AppRegistry:
    apps: AppRegistry = request.app.state.runtime.apps
    return apps


def _code(request: Request) -> str:
    """The `app_id` of the path: an app_code (400 naming it otherwise)."""
    code: str = request.path_params["app_id"]
    if not APP_CODE.fullmatch(code):
        raise InvalidInput(f"app_id must be an app_code (letters, digits, _ . -), got {code[:40]!r}", field="app_id")
    return code


async def create_app(request: Request) -> Response:
    body = await parse_body(request, AppIn)
    return await envelope(await asyncio.to_thread(_apps(request).create, body))


async def update_app(request: Request) -> Response:
    body = await parse_body(request, AppUpdate)
    return await envelope(await asyncio.to_thread(_apps(request).update, body))


async def delete_app(request: Request) -> Response:
    return await envelope(await asyncio.to_thread(_apps(request).delete, _code(request)))


async def get_app(request: Request) -> Response:
    return await envelope(await asyncio.to_thread(_apps(request).get, _code(request)))


async def list_apps(request: Request) -> Response:
    params = page_params(request)
    return await envelope(await asyncio.to_thread(_apps(request).page, **params))


ITEM = BASE + "/{app_id}"
APP_ID = Param("app_id", "path", TypeAdapter(AppCode).json_schema(), "The app's app_code.")
APP_ROUTES: list[tuple[Endpoint, Handler]] = [
    (Endpoint("POST", BASE, "Create an app", body=AppIn, response=App, enveloped=True), create_app),
    (
        Endpoint("PUT", BASE, "Update an app (app_code in the body)", body=AppUpdate, response=App, enveloped=True),
        update_app,
    ),
    (
        Endpoint(
            "GET",
            BASE,
            "List apps (data: app_list, total_count, total_page, current_page)",
            params=(PAGE, PAGE_SIZE),
            response=AppPage,
            enveloped=True,
        ),
        list_apps,
    ),
    (Endpoint("GET", ITEM, "Get an app", params=(APP_ID,), response=App, enveloped=True), get_app),
    (Endpoint("DELETE", ITEM, "Delete an app", params=(APP_ID,), response=App, enveloped=True), delete_app),
]
