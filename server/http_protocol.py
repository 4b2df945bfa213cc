"""uvicorn's HTTP protocol with time limits on reading a request: a client that does not finish sending its headers
(`DBGPT_HTTP_HEADER_TIMEOUT`) or its body (`DBGPT_HTTP_BODY_TIMEOUT`) in time is disconnected, so slow clients
cannot hold connections open. Answers that take long (a streamed chat) are not limited: the clock stops once the
request has arrived."""

from __future__ import annotations

import asyncio
from functools import cache

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dbgpt_tools.settings import Settings


@cache
def _limits() -> tuple[float, float]:
    """(header, body) seconds from the settings of this process (each server worker reads its environment)."""
    settings = Settings()
    return settings.http_header_timeout, settings.http_body_timeout


class TimedHttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that closes a connection whose request headers or body arrive too slowly."""

    _deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn's own
        super().connection_made(transport)
        self._arm(_limits()[0])

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm(_limits()[0])

    def on_headers_complete(self) -> None:
        self._arm(_limits()[1])
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
