"""The operators a flow is made of, each declared once (see `declarations`): take the user's question, retrieve
from a knowledge space, ask or query a datasource, format and join text, branch on a condition, merge branches,
and prompt the LLM (whose answer streams when it is the flow's answer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from dbgpt_tools.chat.models import ChatChunk, ChatMessage, ChatMode, QueryArtifact
from dbgpt_tools.chat.modes.base import TurnContext
from dbgpt_tools.chat.modes.knowledge import numbered_excerpts
from dbgpt_tools.chat.prompts import NORMAL_SYSTEM, to_langchain
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.flows.declarations import Category, Operator, Outputs, Parameter, Port, PortType
from dbgpt_tools.flows.runner import MAX_TEXT_OUTPUT, NodeCall
from dbgpt_tools.knowledge.models import Retrieval
from dbgpt_tools.sql.results import QueryResult, json_value

TEXT, CHUNKS, ROWS = PortType.text, PortType.chunks, PortType.rows
QUESTION = Port("question", "Question", TEXT, "the user's question")
ANSWER = Port("text", "Text", TEXT, "the resulting text")
LLM_TEMPLATE = "{question}"
LLM_CONTEXT_TEMPLATE = "Answer from this context.\n\n{context}\n\nQuestion: {question}"


def fill(template: str, **values: str) -> str:
    """`template` with each `{name}` of `values` replaced (nothing else is interpreted: no format-string tricks);
    a result longer than MAX_TEXT_OUTPUT is refused before it is made."""
    size = len(template) + sum(template.count("{" + name + "}") * len(value) for name, value in values.items())
    if size > MAX_TEXT_OUTPUT:
        raise InvalidInput(f"the template would make {size:,} characters (at most {MAX_TEXT_OUTPUT:,})")
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


async def user_input(call: NodeCall) -> Outputs:
    return {"question": call.turn.question}


async def retrieve(call: NodeCall) -> Outputs:
    retrieval = await asyncio.to_thread(
        call.services.knowledge.retriever.search,
        call.parameters["space"],
        call.inputs["question"],
        top_k=call.parameters["top_k"],
    )
    return {"chunks": retrieval}


async def format_chunks(call: NodeCall) -> Outputs:
    retrieval: Retrieval = call.inputs["chunks"]
    return {"text": numbered_excerpts(retrieval.chunks) or call.parameters["empty"]}


async def ask_datasource(call: NodeCall) -> Outputs:
    """chat_data on the datasource, keeping its rows (the conversation's history is not passed on)."""
    name = call.parameters["datasource"]
    request = call.turn.request.model_copy(update={"chat_mode": ChatMode.chat_data, "chat_param": name})
    await call.services.data_chat.check(request)
    turn = TurnContext(request, call.inputs["question"], [], call.turn.llm, call.turn.admission)
    said: list[str] = []
    async for chunk in call.services.data_chat.answer(turn):
        said.append(chunk.delta)
        if isinstance(chunk.artifact, QueryArtifact):
            return {"rows": chunk.artifact.result}
    raise InvalidInput(f"no query answered the question on {name}: {''.join(said).strip()[-300:]}")


async def run_sql(call: NodeCall) -> Outputs:
    parameters = call.parameters
    return {"rows": await call.services.sql.arun_sql(parameters["datasource"], call.inputs["sql"], parameters["limit"])}


async def format_rows(call: NodeCall) -> Outputs:
    result: QueryResult = call.inputs["rows"]
    shown = result.rows[: call.parameters["max_rows"]]
    lines = [" | ".join(result.columns), " | ".join("---" for _ in result.columns)]
    lines += [" | ".join(str(json_value(value)) for value in row) for row in shown]
    if len(shown) < result.row_count or result.truncated:
        lines.append(f"({result.row_count} rows{' and more' if result.truncated else ''}; {len(shown)} shown)")
    return {"text": "\n".join(lines)}


async def format_text(call: NodeCall) -> Outputs:
    inputs = call.inputs
    text = fill(call.parameters["template"], text=inputs["text"], extra=inputs["extra"], question=call.turn.question)
    return {"text": text}


async def join_text(call: NodeCall) -> Outputs:
    parts = [part for part in (call.inputs["first"], call.inputs["second"]) if part]
    return {"text": call.parameters["separator"].replace("\\n", "\n").join(parts)}


async def branch(call: NodeCall) -> Outputs:
    text, wanted = call.inputs["text"], call.parameters["contains"]
    if call.parameters["ignore_case"]:
        text, wanted = text.lower(), wanted.lower()
    return {"then": call.inputs["text"]} if wanted in text else {"otherwise": call.inputs["text"]}


async def prompt_llm(call: NodeCall) -> AsyncIterator[ChatChunk]:
    context = call.inputs["context"]
    template = call.parameters["template"] or (LLM_CONTEXT_TEMPLATE if context else LLM_TEMPLATE)
    prompt = fill(template, question=call.inputs["question"], context=context)
    history = call.turn.history if call.parameters["history"] else []
    messages = [ChatMessage(role="system", content=call.parameters["system"]), *history]
    async for chunk in call.turn.stream_llm(to_langchain([*messages, ChatMessage(role="user", content=prompt)])):
        yield chunk


DATASOURCE = Parameter("datasource", "Datasource", str, "the datasource's db_name", optional=False)
OPERATORS: dict[str, Operator] = {
    operator.name: operator
    for operator in (
        Operator(
            "user_input",
            "User input",
            "The user's message: where a flow starts.",
            Category.trigger,
            outputs=(QUESTION,),
            run=user_input,
        ),
        Operator(
            "retrieve",
            "Retrieve",
            "Retrieve the chunks of a knowledge space most similar to the question (hybrid search).",
            Category.rag,
            inputs=(QUESTION,),
            outputs=(Port("chunks", "Chunks", CHUNKS, "the retrieved chunks, best first"),),
            parameters=(
                Parameter("space", "Space", str, "the knowledge space's name", optional=False),
                Parameter("top_k", "Top k", int, "how many chunks", default=4, minimum=1, maximum=20),
            ),
            run=retrieve,
        ),
        Operator(
            "format_chunks",
            "Format chunks",
            "Number the retrieved chunks with their sources, as excerpts an LLM can cite ([1], [2]).",
            Category.conversion,
            inputs=(Port("chunks", "Chunks", CHUNKS, "retrieved chunks"),),
            outputs=(ANSWER,),
            parameters=(Parameter("empty", "When empty", str, "the text when nothing was found", default=""),),
            run=format_chunks,
        ),
        Operator(
            "ask_datasource",
            "Ask datasource",
            "Answer the question with SQL on a datasource (chat_data: the model writes the query, it runs read-only).",
            Category.database,
            inputs=(QUESTION,),
            outputs=(Port("rows", "Rows", ROWS, "the query's rows"),),
            parameters=(DATASOURCE,),
            run=ask_datasource,
        ),
        Operator(
            "run_sql",
            "Run SQL",
            "Run one SQL statement on a datasource (read-only unless it is writable; capped rows; time limit).",
            Category.database,
            inputs=(Port("sql", "SQL", TEXT, "the statement"),),
            outputs=(Port("rows", "Rows", ROWS, "the statement's rows"),),
            parameters=(DATASOURCE, Parameter("limit", "Row limit", int, "row cap", minimum=1, maximum=10_000)),
            run=run_sql,
        ),
        Operator(
            "format_rows",
            "Format rows",
            "Rows as a text table.",
            Category.conversion,
            inputs=(Port("rows", "Rows", ROWS, "rows to show"),),
            outputs=(ANSWER,),
            parameters=(Parameter("max_rows", "Rows shown", int, "rows shown", default=20, minimum=1, maximum=500),),
            run=format_rows,
        ),
        Operator(
            "format_text",
            "Format text",
            "Fill a template: {text} is the input, {extra} the optional second input, {question} the user's message.",
            Category.conversion,
            inputs=(ANSWER, Port("extra", "Extra", TEXT, "more text", optional=True)),
            outputs=(ANSWER,),
            parameters=(Parameter("template", "Template", str, "the text to make", default="{text}"),),
            run=format_text,
        ),
        Operator(
            "join_text",
            "Join text",
            "Join two texts with a separator (an empty one is left out).",
            Category.conversion,
            inputs=(Port("first", "First", TEXT, "first text"), Port("second", "Second", TEXT, "second text")),
            outputs=(ANSWER,),
            parameters=(Parameter("separator", "Separator", str, "put between the texts", default="\n\n"),),
            run=join_text,
        ),
        Operator(
            "branch",
            "Branch",
            "Send the text on `then` when it contains the given words, else on `otherwise`; the nodes after the "
            "other output are skipped.",
            Category.common,
            inputs=(ANSWER,),
            outputs=(Port("then", "Then", TEXT, "the text, if it matched"), Port("otherwise", "Otherwise", TEXT, "")),
            parameters=(
                Parameter("contains", "Contains", str, "the words to look for", optional=False),
                Parameter("ignore_case", "Ignore case", bool, "compare ignoring case", default=True),
            ),
            run=branch,
        ),
        Operator(
            "merge",
            "Merge",
            "Pass on the first input whose branch ran (joins the outputs of a branch).",
            Category.common,
            inputs=(Port("first", "First", TEXT, "", optional=True), Port("second", "Second", TEXT, "", optional=True)),
            outputs=(ANSWER,),
            passes_through=True,
        ),
        Operator(
            "llm",
            "LLM",
            "Prompt the model: the template's {question} and {context} are the inputs; the answer streams when it "
            "is the flow's answer.",
            Category.llm,
            inputs=(QUESTION, Port("context", "Context", TEXT, "text the answer should use", optional=True)),
            outputs=(Port("answer", "Answer", TEXT, "the model's answer"),),
            parameters=(
                Parameter("template", "Prompt", str, "the user message; default: the question (and the context)"),
                Parameter("system", "System", str, "the system instructions", default=NORMAL_SYSTEM),
                Parameter("history", "History", bool, "include the conversation so far", default=True),
            ),
            stream=prompt_llm,
        ),
    )
}
