"""Question-SQL examples of a datasource (`/api/v2/serve/datasources/{datasource_id}/examples`, the id or the
db_name) and feedback on an answer (`/api/v2/serve/conversations/{conv_uid}/feedback`): a correct chat_data answer
becomes an example."""

from __future__ import annotations

import asyncio

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.chat.feedback import Feedback, FeedbackIn, FeedbackResult
from dbgpt_tools.chat.models import ConvUid
from dbgpt_tools.errors import validated
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.examples import Example, ExampleIn, ExampleList
from server.openapi import Endpoint, Handler, Param
from server.requests import json_object, parse_body, path_id
from server.responses import envelope

EXAMPLES = "/api/v2/serve/datasources/{datasource_id}/examples"
FEEDBACK = "/api/v2/serve/conversations/{conv_uid}/feedback"


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _datasource(request: Request) -> str:
    return str(request.path_params["datasource_id"])


async def add_example(request: Request) -> Response:
    body = await parse_body(request, ExampleIn)
    return await envelope(await _runtime(request).examples.add(_datasource(request), body))


async def list_examples(request: Request) -> Response:
    return await envelope(await asyncio.to_thread(_runtime(request).examples.list, _datasource(request)))


async def delete_example(request: Request) -> Response:
    example_id = path_id(request, "example_id")
    return await envelope(await asyncio.to_thread(_runtime(request).examples.delete, _datasource(request), example_id))


async def give_feedback(request: Request) -> Response:
    body = await json_object(request)
    feedback = validated(Feedback, {**body, "conv_uid": request.path_params["conv_uid"]})
    return await envelope(await _runtime(request).feedback.give(feedback))


SOURCE = Param("datasource_id", "path", {"type": "string", "minLength": 1, "maxLength": 256}, "Id or db_name.")
EXAMPLE_ID = Param("example_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}, "The pair's id.")
CONV = Param("conv_uid", "path", TypeAdapter(ConvUid).json_schema(), "The conversation's id.")
EXAMPLE_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "POST",
            EXAMPLES,
            "Teach a question-SQL pair (checked: read-only, safe, runs)",
            params=(SOURCE,),
            body=ExampleIn,
            response=Example,
            enveloped=True,
            upstream=True,
        ),
        add_example,
    ),
    (
        Endpoint(
            "GET", EXAMPLES, "A datasource's question-SQL pairs", params=(SOURCE,), response=ExampleList, enveloped=True
        ),
        list_examples,
    ),
    (
        Endpoint(
            "DELETE",
            EXAMPLES + "/{example_id}",
            "Delete a pair",
            params=(SOURCE, EXAMPLE_ID),
            response=Example,
            enveloped=True,
        ),
        delete_example,
    ),
    (
        Endpoint(
            "POST",
            FEEDBACK,
            "Mark an answer correct or not (a correct chat_data answer becomes a pair)",
            params=(CONV,),
            body=FeedbackIn,
            response=FeedbackResult,
            enveloped=True,
            upstream=True,
        ),
        give_feedback,
    ),
]
