"""A second app on a port of its own, served from the main server's event loop and lifespan: it opens once the
main app has started (its model loaded) and closes, its requests drained, before the main app shuts down (and
closes the runtime both use). Signals stay the main server's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("dbgpt_tools.server")


class _Beside(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the main one (which tells it when to stop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` (not yet listening): a port in use fails here, before anything loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class WithSecondPort:
    """`main` (an ASGI app with a lifespan), serving `config`'s app on `sock` beside it for its lifetime (logging
    `announce` when it opens)."""

    def __init__(self, main: ASGIApp, config: uvicorn.Config, sock: socket.socket, announce: str) -> None:
        self.main = main
        self.config = config
        self.sock = sock
        self.announce = announce  # logged when it opens, `{address}` replaced by `host:port`

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.main(scope, receive, send)
            return
        server = _Beside(self.config)
        serving: asyncio.Task[None] | None = None

        async def started(message: Message) -> None:
            nonlocal serving
            if message["type"] == "lifespan.startup.complete":
                serving = asyncio.create_task(server.serve(sockets=[self.sock]))
                host, port = self.sock.getsockname()[:2]
                log.info(self.announce.format(address=f"[{host}]:{port}" if ":" in host else f"{host}:{port}"))
            await send(message)

        async def stopping() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and serving is not None:
                server.should_exit = True
                await serving
            return message

        await self.main(scope, stopping, started)
