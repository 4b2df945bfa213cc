"""A response hook that keeps every body a test client received."""

from __future__ import annotations

import httpx


class Recorder:
    """Keeps the text of every response, to check that no body ever carried a password."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        self.bodies.append(response.text)

    def assert_never_shows(self, secret: str) -> None:
        assert self.bodies, "no response recorded"
        assert not [body for body in self.bodies if secret in body]
