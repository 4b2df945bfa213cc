"""The chat core: history by conv_uid, request validation, the model gate, partial answers kept."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from dbgpt_tools.chat.conversations import ConversationInfo
from dbgpt_tools.chat.markup import render_artifact
from dbgpt_tools.chat.models import ChatMode, ChatRequest, QueryArtifact, StoredMessage
from dbgpt_tools.errors import Busy, InvalidInput
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.results import QueryResult
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio


async def test_second_turn_sees_first(runtime: Runtime, scripted: ScriptedChatModel) -> None:
    first = await runtime.chat.complete(ChatRequest(messages="My cat is called Tom."))
    await runtime.chat.complete(ChatRequest(messages="What is my cat called?", conv_uid=first.conv_uid))
    sent = scripted.texts(1)
    assert sent[1:] == ["My cat is called Tom.", "Hello there friend", "What is my cat called?"]
    assert "DB-GPT" in sent[0]  # the system prompt leads


async def test_new_conversation_gets_fresh_id_and_no_history(runtime: Runtime, scripted: ScriptedChatModel) -> None:
    first = await runtime.chat.complete(ChatRequest(messages="one"))
    second = await runtime.chat.complete(ChatRequest(messages="two"))
    assert first.conv_uid != second.conv_uid
    assert scripted.texts(1)[1:] == ["two"]


async def test_history_survives_a_new_runtime_on_the_same_store(runtime: Runtime, scripted: ScriptedChatModel) -> None:
    first = await runtime.chat.complete(ChatRequest(messages="Remember 42.", conv_uid="c-restart"))
    again = Runtime(runtime.settings, chat_model=scripted)  # a restarted process
    try:
        await again.chat.complete(ChatRequest(messages="What number?", conv_uid=first.conv_uid))
    finally:
        again.close()
    assert "Remember 42." in scripted.texts(-1)


async def test_full_openai_history_is_used_as_given(runtime: Runtime, scripted: ScriptedChatModel) -> None:
    request = ChatRequest.model_validate(
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": [{"type": "text", "text": "Bye"}]},
            ]
        }
    )
    result = await runtime.chat.complete(request)
    assert scripted.texts(-1) == ["Be terse.", "Hi", "Hello", "Bye"]
    stored = runtime.conversations.history(result.conv_uid, 10)
    assert [m.content for m in stored] == ["Bye", "Hello there friend"]


async def test_our_markup_in_a_sent_history_does_not_reach_the_model(
    runtime: Runtime, scripted: ScriptedChatModel
) -> None:
    rows = QueryResult(
        columns=["n"],
        rows=[(i,) for i in range(500)],
        row_count=500,
        truncated=False,
        limit_applied=1000,
        elapsed_ms=1.0,
        sql="SELECT n FROM t",
    )
    markup = render_artifact(QueryArtifact(result=rows, chart_type="response_table"), markup=True)
    answer = f"```sql\nSELECT n FROM t\n```\n\nThe query returned 500 rows.{markup}"
    history = [{"role": "user", "content": "All n?"}, {"role": "assistant", "content": answer}]
    await runtime.chat.complete(
        ChatRequest.model_validate({"messages": [*history, {"role": "user", "content": "More?"}]})
    )
    sent = scripted.texts(-1)
    assert sent[2] == "```sql\nSELECT n FROM t\n```\n\nThe query returned 500 rows.\n\n(result shown to the user)"
    assert sent[1:2] + sent[3:] == ["All n?", "More?"]


async def test_artifacts_are_stored_with_the_answer_and_read_back_typed(runtime: Runtime) -> None:
    rows = QueryResult(
        columns=["day", "n"],
        rows=[(date(2024, 5, 1), Decimal("2.50"))],
        row_count=1,
        truncated=False,
        limit_applied=10,
        elapsed_ms=1.0,
        sql="SELECT day, n FROM t",
    )
    info = ConversationInfo(conv_uid="c-rows", chat_mode=ChatMode.chat_data, chat_param="shop")
    answer = StoredMessage(role="assistant", content="1 row", artifacts=[QueryArtifact(result=rows, chart_type="t")])
    runtime.conversations.append(info, [StoredMessage(role="user", content="rows?"), answer])
    question, stored = runtime.conversations.history("c-rows", 10)
    assert question.artifacts == [] and stored.content == "1 row"
    [artifact] = stored.artifacts
    assert isinstance(artifact, QueryArtifact)
    assert artifact.result.columns == ["day", "n"] and [list(r) for r in artifact.result.rows] == [["2024-05-01", 2.5]]
    assert runtime.conversations.history("c-rows", 1) == [stored]  # the last `limit` messages
    assert runtime.conversations.history("c-rows", 0) == [] and runtime.conversations.history("nope", 5) == []


def test_two_first_turns_of_one_conversation_at_once_both_land(runtime: Runtime) -> None:
    """Two requests may create the same conversation at the same moment (the second retries as an append)."""
    info = ConversationInfo(conv_uid="c-race", chat_mode=ChatMode.chat_normal)
    barrier = threading.Barrier(2)

    def first_turn(text: str) -> None:
        barrier.wait()
        runtime.conversations.append(info, [StoredMessage(role="user", content=text)])

    threads = [threading.Thread(target=first_turn, args=(text,)) for text in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m.content for m in runtime.conversations.history("c-race", 10)) == ["a", "b"]


async def test_stream_yields_deltas_then_finish(runtime: Runtime) -> None:
    turn = await runtime.chat.start(ChatRequest(messages="hi"))
    chunks = [chunk async for chunk in turn]
    assert "".join(c.delta for c in chunks) == "Hello there friend"
    assert len(chunks) > 2
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    assert all(c.finish_reason is None for c in chunks[:-1])


async def test_partial_answer_is_saved_when_the_client_leaves(runtime: Runtime) -> None:
    turn = await runtime.chat.start(ChatRequest(messages="hi", conv_uid="c-partial"))
    stream = turn.__aiter__()  # an async generator: it can be closed
    first = await anext(stream)
    await stream.aclose()
    stored = runtime.conversations.history("c-partial", 10)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].content == first.delta
    assert runtime.llm.gate.admitted == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "messages"),
        ({"messages": ""}, "messages"),
        ({"messages": "hi", "chat_mode": "chat_nonsense"}, "chat_mode"),
        ({"messages": "hi", "temperature": 2.5}, "temperature"),
        ({"messages": "hi", "temperature": -0.1}, "temperature"),
        ({"messages": "hi", "max_new_tokens": -3}, "max_new_tokens"),
        ({"messages": "hi", "max_tokens": -3}, "max_tokens"),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ChatRequest.model_validate(body)
    assert field in {str(loc) for error in info.value.errors() for loc in error["loc"]}


def test_nulls_mean_absent_and_max_new_tokens_wins() -> None:
    request = ChatRequest.model_validate(
        {"messages": "hi", "chat_mode": None, "temperature": None, "max_tokens": 9, "max_new_tokens": 5}
    )
    assert request.chat_mode is ChatMode.chat_normal and request.temperature is None
    assert request.max_new_tokens == 5


async def test_last_message_must_be_from_the_user(runtime: Runtime) -> None:
    request = ChatRequest.model_validate(
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    )
    with pytest.raises(InvalidInput) as info:
        await runtime.chat.start(request)
    assert info.value.field == "messages"


async def test_a_mode_without_its_target_is_refused_before_streaming(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as info:
        await runtime.chat.start(ChatRequest(messages="hi", chat_mode=ChatMode.chat_flow))
    assert info.value.field == "chat_param" and "flow" in info.value.message


async def test_gate_refuses_when_line_is_full(settings, scripted: ScriptedChatModel) -> None:
    rt = Runtime(settings.model_copy(update={"llm_max_parallel": 1, "llm_max_queue": 1}), chat_model=scripted)
    try:
        holders = [rt.llm.gate.admit(), rt.llm.gate.admit()]
        with pytest.raises(Busy):
            await rt.chat.start(ChatRequest(messages="hi"))
        for admission in holders:
            admission.release()
        assert (await rt.chat.complete(ChatRequest(messages="hi"))).content == "Hello there friend"
    finally:
        rt.close()


@pytest.mark.local_model
async def test_real_local_model_answers_and_remembers(local_runtime: Runtime) -> None:
    first = await local_runtime.chat.complete(ChatRequest(messages="Reply with one word: hello.", max_new_tokens=8))
    assert first.content.strip() and first.model == "smollm2-135m"
    assert first.usage.completion_tokens > 0 and first.usage.prompt_tokens > 0
    second = await local_runtime.chat.complete(
        ChatRequest(messages="And again.", conv_uid=first.conv_uid, max_new_tokens=8)
    )
    assert second.usage.prompt_tokens > first.usage.prompt_tokens  # turn 1 was sent along
