"""Run by the official `dbgpt-client` package (in its own virtualenv) against a live dbgpt-tools server.

Usage: python dbgpt_client_check.py BASE_URL API_KEY SQLITE_PATH. Prints one line per check; exit status 1 on
the first failure. Kept free of project imports: it runs where only dbgpt-client is installed.
"""

import asyncio
import sys
import time

from dbgpt_client import Client, ClientException
from dbgpt_client.app import get_app, list_app
from dbgpt_client.datasource import (
    create_datasource,
    delete_datasource,
    get_datasource,
    list_datasource,
    update_datasource,
)
from dbgpt_client.evaluation import EvaluateServeRequest, run_evaluation
from dbgpt_client.flow import create_flow, delete_flow, get_flow, list_flow, update_flow
from dbgpt_client.knowledge import (
    create_document,
    create_space,
    delete_document,
    delete_space,
    get_document,
    get_space,
    list_document,
    list_space,
    sync_document,
    update_space,
)
from dbgpt_client.schema import DatasourceModel, DocumentModel, SpaceModel, SyncModel


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        sys.exit(1)


async def main(base: str, key: str, sqlite_path: str) -> None:
    client = Client(api_base=base, api_key=key)
    answer = await client.chat(model="any", messages="Hello")
    check(bool(answer.id) and isinstance(answer.choices[0].message.content, str), "chat (non-stream) parses")
    check(answer.usage is not None, "chat carries usage")
    pieces = [
        chunk.choices[0].delta.content
        async for chunk in client.chat_stream(model="any", messages="Hello again", conv_uid=answer.id)
    ]
    check(len(pieces) > 1 and all(isinstance(p, str) for p in pieces), "chat_stream chunks parse")
    data = [
        chunk.choices[0].delta.content
        async for chunk in client.chat_stream(
            model="any", messages="How many regions?", chat_mode="chat_data", chat_param="sample_sales"
        )
    ]
    check("<chart-view" in "".join(data), "chat_data stream carries chart-view")

    created = await create_datasource(
        client,
        DatasourceModel(db_name="conformance", db_type="sqlite", db_path=sqlite_path, comment="made by dbgpt-client"),
    )
    check(isinstance(created.id, int) and created.db_name == "conformance", "create_datasource")
    listed = await list_datasource(client)
    check("conformance" in [d.db_name for d in listed], "list_datasource")
    fetched = await get_datasource(client, str(created.id))
    check(fetched.comment == "made by dbgpt-client", "get_datasource")
    updated = await update_datasource(
        client,
        DatasourceModel(id=created.id, db_name="conformance", db_type="sqlite", db_path=sqlite_path, comment="changed"),
    )
    check(updated.comment == "changed", "update_datasource")
    try:
        await create_datasource(client, DatasourceModel(db_name="conformance", db_type="sqlite", db_path=sqlite_path))
        check(False, "duplicate create_datasource raises ClientException")
    except ClientException as exc:
        check("already exists" in f"{exc.status} {exc.reason}", "duplicate create_datasource raises ClientException")
    deleted = await delete_datasource(client, str(created.id))
    check(deleted.id == created.id, "delete_datasource")
    try:
        await get_datasource(client, str(created.id))
        check(False, "get of a deleted datasource raises ClientException")
    except ClientException:
        check(True, "get of a deleted datasource raises ClientException")
    await knowledge(client)
    apps = await list_app(client)
    check("sales_analyst" in [app.app_code for app in apps], "list_app")
    app = await get_app(client, "sales_analyst")
    check(app.details[0].resources[0].value == "sample_sales", "get_app")
    answer = await client.chat(
        model="any", messages="How many regions?", chat_mode="chat_app", chat_param="sales_analyst"
    )
    check("<chart-view" in answer.choices[0].message.content, "chat_app answers with the app's datasource")
    await flows(client)
    await client.aclose()


async def flows(client: Client) -> None:
    check({"hello", "simple_chat", "simple_rag"} <= {f.uid for f in await list_flow(client)}, "list_flow")
    hello = await get_flow(client, "hello")
    check([node.data.name for node in hello.flow_data.nodes] == ["user_input", "format_text"], "get_flow")
    mine = hello.model_copy(update={"uid": "conformance-flow", "name": "conformance_flow", "label": "Mine"})
    mine.flow_data.nodes[1].data.parameters[0].value = "Hi, {text}."
    created = await create_flow(client, mine)
    check(created.uid == "conformance-flow" and created.state.value == "deployed", "create_flow")
    check([f.uid for f in await list_flow(client, name="conformance_flow")] == [created.uid], "list_flow by name")
    updated = await update_flow(client, created.model_copy(update={"label": "Renamed"}))
    check(updated.label == "Renamed", "update_flow")
    answer = await client.chat(model="any", messages="client", chat_mode="chat_flow", chat_param=created.uid)
    check(answer.choices[0].message.content == "Hi, client.", "chat_flow runs the saved flow")
    streamed = [
        chunk.choices[0].delta.content
        async for chunk in client.chat_stream(model="any", messages="you", chat_mode="chat_flow", chat_param="hello")
    ]
    check("".join(streamed) == "Hello, you!", "chat_flow streams a built-in flow")
    bad = created.model_copy(update={"uid": "bad-flow", "name": "bad_flow"})
    bad.flow_data.nodes[1].data.name = "summarise"
    try:
        await create_flow(client, bad)
        check(False, "a flow with an unknown operator is refused")
    except ClientException as exc:
        check(
            "unknown operator 'summarise'" in f"{exc.status} {exc.reason}", "a flow with an unknown operator is refused"
        )
    check((await delete_flow(client, created.uid)).uid == created.uid, "delete_flow")


async def ingested(client: Client, doc_id: int) -> str:
    """The document's status once its ingestion is over (the deadline is a safety net: it takes a second or two)."""
    status, deadline = "", time.monotonic() + 240
    while status not in ("FINISHED", "FAILED") and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        status = (await client.get(f"/knowledge/documents/{doc_id}")).json()["data"]["status"]
    return status


async def knowledge(client: Client) -> None:
    space = await create_space(client, SpaceModel(name="handbook", vector_type="Chroma", desc="d", owner="me"))
    check(isinstance(space.id, int) and space.name == "handbook", "create_space")
    check("handbook" in [s.name for s in await list_space(client)], "list_space")
    check((await get_space(client, str(space.id))).desc == "d", "get_space")
    updated = await update_space(client, SpaceModel(id=space.id, name="handbook", vector_type="Chroma", desc="new"))
    check(updated.desc == "new", "update_space")
    text = "# Leave\n\nEvery employee gets 27 days of paid holiday a year.\n\n# Hours\n\nThe office opens at 8."
    document = await create_document(
        client, DocumentModel(doc_name="policy.md", doc_type="TEXT", content=text, space_id=str(space.id))
    )
    check(isinstance(document.id, int) and document.doc_name == "policy.md", "create_document (query parameters)")
    check(document.id in [d.id for d in await list_document(client)], "list_document")
    check(await ingested(client, document.id) == "FINISHED", "document ingested")
    check((await get_document(client, str(document.id))).doc_name == "policy.md", "get_document")
    synced = await sync_document(client, SyncModel(doc_id=str(document.id), space_id=str(space.id)))
    check(synced == [document.id] and await ingested(client, document.id) == "FINISHED", "sync_document")
    streamed = [
        chunk.choices[0].delta.content
        async for chunk in client.chat_stream(
            model="any", messages="How many days of holiday?", chat_mode="chat_knowledge", chat_param="handbook"
        )
    ]
    check('<references title="References"' in "".join(streamed), "chat_knowledge stream carries references")
    await evaluation(client, space.id)
    check((await delete_document(client, str(document.id))).id == document.id, "delete_document")
    check((await delete_space(client, str(space.id))).id == space.id, "delete_space")


async def evaluation(client: Client, space_id: int) -> None:
    request = EvaluateServeRequest(
        scene_key="recall",
        scene_value=str(space_id),
        datasets=[{"query": "How many days of holiday?", "doc_name": "policy.md"}],
        evaluate_metrics=["RetrieverHitRateMetric", "RetrieverMRRMetric"],
    )
    rows = await run_evaluation(client, request)
    names = [result["metric_name"] for result in rows[0]]
    check(names == ["RetrieverHitRateMetric", "RetrieverMRRMetric"] and rows[0][0]["score"] == 1.0, "run_evaluation")
    try:
        await run_evaluation(client, request.model_copy(update={"evaluate_metrics": ["BLEU"]}))
        check(False, "run_evaluation with an unknown metric raises ClientException")
    except ClientException as exc:
        check("unknown metric 'BLEU'" in str(exc), "run_evaluation with an unknown metric raises ClientException")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
