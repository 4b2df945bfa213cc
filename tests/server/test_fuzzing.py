"""A schema-driven fuzzer (schemathesis) against the app: for every documented operation, requests generated from
the OpenAPI document, valid and invalid, never earn a 5xx; every response matches the document; invalid requests
are refused; valid ones are accepted unless a rule the document can only state in words refuses them.

schemathesis's own pytest integration needs pytest < 9.2 (it sets `node._nodeid`), so each operation's strategy
is run by hypothesis here directly."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from starlette.types import ASGIApp, Receive, Scope, Send

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.app import ROUTES, create_app
from server.openapi import Endpoint
from tests.conftest import MODEL_DIR
from tests.scripted import ScriptedChatModel

AUTH = {"Authorization": "Bearer test-key"}
EXAMPLES = 60  # per operation and mode: ~180 cases (every route, valid and invalid), ~6 min on 2 cores
# Refusals of well-formed requests that depend on the state of things, which a JSON schema cannot describe (each
# is stated in the document's descriptions): the database judges the SQL, a file must exist, a history must end
# with a question that is not empty, a kept password must not travel, a chunk overlap must be below the chunk
# size, a document is text or a file, of a type its file name tells, a connection test needs a database that answers.
STATEFUL_REFUSALS = re.compile(
    r"the database rejected the statement|does not parse as|exactly one SQL statement|is not allowed on|"
    r"does not exist \(a read-only datasource needs an existing file\)|outside the allowed roots|"
    r"the last message must be the user's question|the question must not be empty|"
    r"a stored password only goes to the destination|SQL is nested too deeply|"
    r"chunk_overlap must be smaller than chunk_size|send either content|unsupported document type|"
    r"cannot tell the type of|connection test failed|"
    r"flow_data: flow (node|edge) |is not the path's"
)


class WithoutLifespan:
    """The app's HTTP routes, with the lifespan answered here: schemathesis restarts an app's lifespan after a
    failure, and the MCP session manager it starts runs once per app (MCP is not in the OpenAPI document)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ASGIApp]:
    """The server on a scripted model that answers forever (a query, for chat_data)."""
    data = tmp_path_factory.mktemp("fuzz")
    configured = Settings(data_dir=data, model_dir=MODEL_DIR, api_keys="test-key", sample_db=True, sql_timeout=5)
    model = ScriptedChatModel(messages=itertools.cycle(["```sql\nSELECT 1 AS one\n```"]))
    runtime = Runtime(configured, chat_model=model)
    yield WithoutLifespan(create_app(runtime))
    runtime.close()


@pytest.fixture(scope="module")
def api_schema(app: ASGIApp) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def no_server_fault(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """No 5xx, except the gateway answers an operation documents (a database or the LLM failed: 502; a statement
    passed its time limit: 504): the fuzzer registers datasources on hosts that do not exist."""
    if response.status_code in (502, 504) and str(response.status_code) in case.operation.definition.raw["responses"]:
        return None
    result: bool | None = not_a_server_error(ctx, response, case)
    return result


def accepted_unless_the_state_refuses(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """schemathesis's positive-data check, except for the refusals listed in STATEFUL_REFUSALS."""
    if response.status_code == 400 and STATEFUL_REFUSALS.search(response.json().get("err_msg") or ""):
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


def rejected_or_too_large(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """schemathesis's negative-data check, where a body past the server's size cap (413, before it is read as
    JSON) counts as rejected too: the fuzzer makes such bodies from the schema's generous per-field bounds."""
    if response.status_code == 413:
        return None
    result: bool | None = negative_data_rejection(ctx, response, case)
    return result


def _can_be_invalid(endpoint: Endpoint) -> bool:
    """Whether schemathesis can make a request to `endpoint` invalid on the wire: a body or a path parameter. Only
    optional query parameters (the list pages) are not enough: its invalid cases there drop the Authorization
    header (which the harness sends anyway) and add parameters its own encoding leaves out, so the request that
    arrives is valid (tests/knowledge/test_rest_api.py refuses bad page parameters explicitly)."""
    return endpoint.body is not None or any(param.location == "path" for param in endpoint.params)


CASES = [
    (endpoint.method, endpoint.path, mode)
    for endpoint, _ in ROUTES
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _can_be_invalid(endpoint)
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_5xx_and_responses_match_the_document(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Case[Any]) -> None:
        case.call_and_validate(
            headers=AUTH,
            excluded_checks=[positive_data_acceptance, negative_data_rejection, not_a_server_error],
            additional_checks=[accepted_unless_the_state_refuses, rejected_or_too_large, no_server_fault],
        )

    fuzz()
