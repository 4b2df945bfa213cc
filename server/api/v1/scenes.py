"""DB-GPT's chat scenes (what its web UI and v1 API call a `chat_mode`) and the chat modes that answer them here.

A scene names what the UI shows: `chat_with_db_execute` and `chat_with_db_qa` are both answered by chat_data,
`chat_agent` (an app) by chat_app. Our own mode names are accepted as scenes too. Conversations keep the mode that
answered them; a list shows each mode as the scene the UI opens it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import TypeAdapter

from dbgpt_tools.chat.conversations import AGENT_MODE, ConversationMode
from dbgpt_tools.chat.models import ChatMode
from dbgpt_tools.errors import InvalidInput

Resource = Literal["database", "knowledge"]
SceneCode = Literal[
    "chat_with_db_execute",
    "chat_with_db_qa",
    "chat_knowledge",
    "chat_agent",
    "chat_normal",
    "chat_flow",
    "chat_data",
    "chat_app",
]
"""The scenes served here (what a v1 `chat_mode` may be)."""
ListedMode = SceneCode | Literal["chat_react_agent"]
"""What a conversation list may be asked for: a scene's, or the home page's (`chat_react_agent`)."""


@dataclass(frozen=True)
class Scene:
    """A scene: its code and name, the chat mode that answers it, and the resource it is asked about (its
    `select_param`)."""

    code: SceneCode
    name: str
    describe: str
    mode: ChatMode
    resource: Resource | None = None
    listed: bool = True  # offered by `/api/v1/chat/dialogue/scenes`

    @property
    def param_title(self) -> str:
        """What DB-GPT calls the choice of the scene's resource."""
        return {"database": "DB Select", "knowledge": "Knowledge Space Select", None: ""}[self.resource]


SCENES: dict[str, Scene] = {
    scene.code: scene
    for scene in (
        Scene(
            "chat_with_db_execute",
            "Chat Data",
            "Ask a database in words: the model writes the SQL, it is checked and run, and the rows come back.",
            ChatMode.chat_data,
            "database",
        ),
        Scene(
            "chat_with_db_qa",
            "Chat Meta Data",
            "Ask a database about its data and structure (answered like Chat Data).",
            ChatMode.chat_data,
            "database",
        ),
        Scene(
            "chat_knowledge",
            "Chat Knowledge",
            "Ask the documents of a knowledge space; the answer cites them.",
            ChatMode.chat_knowledge,
            "knowledge",
        ),
        Scene("chat_agent", "Chat App", "Chat with an app (its app_code).", ChatMode.chat_app),
        Scene("chat_normal", "Chat Normal", "Chat with the model.", ChatMode.chat_normal, listed=False),
        Scene("chat_flow", "Chat Flow", "Chat through a flow (its uid or name).", ChatMode.chat_flow, listed=False),
        Scene("chat_data", "Chat Data", "chat_data by its own name.", ChatMode.chat_data, "database", listed=False),
        Scene("chat_app", "Chat App", "chat_app by its own name.", ChatMode.chat_app, listed=False),
    )
}
SCENE_OF_MODE: dict[ConversationMode, str] = {
    ChatMode.chat_normal: "chat_normal",
    ChatMode.chat_data: "chat_with_db_execute",
    ChatMode.chat_knowledge: "chat_knowledge",
    ChatMode.chat_app: "chat_agent",
    ChatMode.chat_flow: "chat_flow",
    AGENT_MODE: AGENT_MODE,
}
"""How a conversation's mode is shown: the scene the UI opens it in (the home page's own conversations keep
`chat_react_agent`, the only mode its sidebar lists)."""


SCENE_SCHEMA = TypeAdapter(SceneCode).json_schema()


def scene(code: str, field: str = "chat_mode") -> Scene:
    """The scene of a chat_mode (400 naming the scenes served here otherwise)."""
    found = SCENES.get(code)
    if found is None:
        served = ", ".join(SCENES)
        raise InvalidInput(f"chat mode {code[:40]!r} is not served by dbgpt-tools; served: {served}", field=field)
    return found


def conversation_mode(code: ListedMode) -> ConversationMode:
    """The stored mode of the conversations a chat_mode filter asks for (`chat_react_agent` or a scene's mode)."""
    return AGENT_MODE if code == AGENT_MODE else scene(code).mode
