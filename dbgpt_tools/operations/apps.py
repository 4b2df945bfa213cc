"""App operations: list, get, create and update apps, and ask one (chat_app)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from dbgpt_tools.apps.models import App, AppCode, AppIn, AppPage, AppUpdate
from dbgpt_tools.apps.registry import AppRegistry
from dbgpt_tools.chat.models import ChatMode, ChatResult, ConvUid
from dbgpt_tools.chat.service import ChatService
from dbgpt_tools.operations.base import AnyOperation, NoArgs, Operation, Progress
from dbgpt_tools.operations.chat import ChatArgs, chat


async def list_apps(apps: AppRegistry, args: NoArgs, progress: Progress | None = None) -> AppPage:
    """Every app (the first 1000)."""
    return await asyncio.to_thread(apps.page, 1, 1000)


class AppRef(BaseModel):
    """An app by its code."""

    app_code: AppCode


async def get_app(apps: AppRegistry, args: AppRef, progress: Progress | None = None) -> App:
    """An app with its resources and prompt template."""
    return await asyncio.to_thread(apps.get, args.app_code)


async def create_app(apps: AppRegistry, args: AppIn, progress: Progress | None = None) -> App:
    """Save a new app."""
    return await asyncio.to_thread(apps.create, args)


async def update_app(apps: AppRegistry, args: AppUpdate, progress: Progress | None = None) -> App:
    """Replace an app's fields."""
    return await asyncio.to_thread(apps.update, args)


class AskAppArgs(BaseModel):
    """Arguments of `ask_app`."""

    app_code: AppCode
    question: str = Field(min_length=1, max_length=100_000, description="The question for the app.")
    conv_uid: ConvUid | None = Field(default=None, description="Continue this conversation.")


async def ask_app(service: ChatService, args: AskAppArgs, progress: Progress | None = None) -> ChatResult:
    """Answer a question with an app (chat_app): its mode, resource and prompt template."""
    question = ChatArgs(
        question=args.question, chat_mode=ChatMode.chat_app, chat_param=args.app_code, conv_uid=args.conv_uid
    )
    return await chat(service, question, progress)


APP_OPERATIONS: tuple[AnyOperation, ...] = (
    Operation(
        name="list_apps",
        title="List apps",
        description="List the saved apps (chat configurations: a datasource or knowledge space and a prompt).",
        args_model=NoArgs,
        result_model=AppPage,
        uses=lambda runtime: runtime.apps,
        run=list_apps,
    ),
    Operation(
        name="get_app",
        title="Get app",
        description="Show an app: its resources (datasource or knowledge space) and prompt template.",
        args_model=AppRef,
        result_model=App,
        uses=lambda runtime: runtime.apps,
        run=get_app,
    ),
    Operation(
        name="ask_app",
        title="Ask an app",
        description="Ask a saved app a question: it answers with its datasource (SQL and rows), its knowledge "
        "space (with references) or the plain model, guided by its prompt. Pass conv_uid for a follow-up.",
        args_model=AskAppArgs,
        result_model=ChatResult,
        uses=lambda runtime: runtime.chat,
        run=ask_app,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="create_app",
        title="Create app",
        description="Save an app: a name, and in details[0] its resources ({type: database|knowledge, value: "
        "the datasource's db_name or the space's name}) and prompt_template.",
        args_model=AppIn,
        result_model=App,
        uses=lambda runtime: runtime.apps,
        run=create_app,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="update_app",
        title="Update app",
        description="Replace a saved app's fields (app_code names it).",
        args_model=AppUpdate,
        result_model=App,
        uses=lambda runtime: runtime.apps,
        run=update_app,
        read_only=False,
    ),
)
