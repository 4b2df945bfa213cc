"""Prompt texts of the chat modes, in one place."""

NORMAL_SYSTEM = (
    "You are DB-GPT, a helpful assistant. Answer the user's question clearly and concisely. "
    "Use the earlier messages of the conversation when the question refers to them."
)
