"""Run by the official `dbgpt-client` package (in its own virtualenv) against a live dbgpt-tools server.

Usage: python dbgpt_client_check.py BASE_URL API_KEY SQLITE_PATH. Prints one line per check; exit status 1 on
the first failure. Kept free of project imports: it runs where only dbgpt-client is installed.
"""

import asyncio
import sys

from dbgpt_client import Client, ClientException
from dbgpt_client.datasource import (
    create_datasource,
    delete_datasource,
    get_datasource,
    list_datasource,
    update_datasource,
)
from dbgpt_client.schema import DatasourceModel


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
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
