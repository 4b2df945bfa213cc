"""The conversation store's list and delete, and conversations kept as started on DB-GPT's home page
(`chat_react_agent`), whose turns each pick their own mode."""

from __future__ import annotations

import pytest

from dbgpt_tools.chat.conversations import AGENT_MODE, TITLE_CHARS, ConversationInfo
from dbgpt_tools.chat.feedback import Feedback
from dbgpt_tools.chat.models import ChatMode, ChatRequest, StoredMessage
from dbgpt_tools.errors import Conflict, InvalidInput
from dbgpt_tools.runtime import Runtime

pytestmark = pytest.mark.anyio


def keep(runtime: Runtime, conv_uid: str, question: str, mode: ChatMode | str = ChatMode.chat_normal) -> None:
    info = ConversationInfo.model_validate({"conv_uid": conv_uid, "chat_mode": mode})
    turn = [StoredMessage(role="user", content=question), StoredMessage(role="assistant", content="answer")]
    runtime.conversations.append(info, turn)


def test_a_page_holds_the_newest_first_with_their_first_question(runtime: Runtime) -> None:
    for number in range(5):
        keep(runtime, f"c-{number}", f"question {number}")
    keep(runtime, "c-0", "a later question")  # a second turn: the title stays the first question
    first, total = runtime.conversations.page(1, 2)
    assert total == 5 and [c.conv_uid for c in first] == ["c-4", "c-3"]
    last, _ = runtime.conversations.page(3, 2)
    assert [(c.conv_uid, c.question) for c in last] == [("c-0", "question 0")]
    assert last[0].created_at.tzinfo is not None and last[0].updated_at >= last[0].created_at
    assert runtime.conversations.page(4, 2) == ([], 5)


def test_a_long_first_question_is_cut_for_the_list(runtime: Runtime) -> None:
    keep(runtime, "c-long", "x" * 100_000)
    [listed], _ = runtime.conversations.page()
    assert listed.question == "x" * TITLE_CHARS


def test_a_page_of_one_mode(runtime: Runtime) -> None:
    keep(runtime, "c-normal", "hi")
    keep(runtime, "c-home", "hello", AGENT_MODE)
    keep(runtime, "c-data", "rows?", ChatMode.chat_data)
    home, total = runtime.conversations.page(chat_mode=AGENT_MODE)
    assert total == 1 and home[0].conv_uid == "c-home" and home[0].chat_mode == AGENT_MODE
    data, _ = runtime.conversations.page(chat_mode=ChatMode.chat_data)
    assert [c.chat_mode for c in data] == [ChatMode.chat_data]


def test_pages_are_bounded(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match="page_size"):
        runtime.conversations.page(1, 1001)
    with pytest.raises(InvalidInput, match="page"):
        runtime.conversations.page(0, 10)


def test_delete_removes_the_messages_and_clear_keeps_the_conversation(runtime: Runtime) -> None:
    keep(runtime, "c-gone", "one")
    keep(runtime, "c-cleared", "two")
    assert runtime.conversations.delete("c-gone") is True
    assert runtime.conversations.history("c-gone", 10) == [] and runtime.conversations.info("c-gone") is None
    assert runtime.conversations.delete("c-gone") is False
    assert runtime.conversations.delete("c-cleared", keep_conversation=True) is True
    assert runtime.conversations.history("c-cleared", 10) == []
    [cleared], _ = runtime.conversations.page()
    assert (cleared.conv_uid, cleared.question) == ("c-cleared", "")


async def test_a_turn_may_keep_its_new_conversation_as_the_home_pages(runtime: Runtime) -> None:
    request = ChatRequest(messages="Hi", conv_uid="c-agent")
    await (await runtime.chat.start(request, AGENT_MODE)).collect()
    await (await runtime.chat.start(request, ChatMode.chat_data)).collect()  # later turns do not change it
    info = runtime.conversations.info("c-agent")
    assert info is not None and info.chat_mode == AGENT_MODE


async def test_feedback_on_a_home_page_conversation_is_a_conflict_not_a_crash(runtime: Runtime) -> None:
    keep(runtime, "c-agent", "rows?", AGENT_MODE)
    with pytest.raises(Conflict, match="no example to learn"):
        await runtime.feedback.give(Feedback(conv_uid="c-agent", correct=True))
