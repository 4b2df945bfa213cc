"""A datasource's host is not a port scanner: whatever answers (nothing, a web server, a closed port), the error
is one generic sentence that carries none of the peer's bytes and cannot tell the cases apart."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from dbgpt_tools.errors import Upstream
from dbgpt_tools.runtime import Runtime
from tests.sql.conftest import free_port

BANNER = b"HTTP/1.1 400 Bad Request\r\nServer: internal-admin-7f3a\r\nContent-Length: 22\r\n\r\nsecret-internal-banner"


@pytest.fixture
def web_server() -> Iterator[int]:
    """A port answering every connection with an HTTP error page, as an internal web service would."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                client.settimeout(0.2)
                with contextlib.suppress(OSError):
                    client.recv(4096)  # a MySQL client speaks second: the page then comes unasked
                with contextlib.suppress(OSError):
                    client.sendall(BANNER)

    threading.Thread(target=serve, daemon=True).start()
    yield int(listener.getsockname()[1])
    listener.close()


@pytest.mark.parametrize("db_type", ["postgresql", "mysql"])
def test_a_web_server_and_a_closed_port_read_alike(runtime: Runtime, web_server: int, db_type: str) -> None:
    messages: dict[str, list[str]] = {}
    for name, port in (("web", web_server), ("closed", free_port())):
        runtime.datasources.create(
            {"db_name": name, "db_type": db_type, "db_host": "127.0.0.1", "db_port": port, "db_user": "u"}
        )
        status = runtime.connections.test(name)
        with pytest.raises(Upstream) as caught:
            runtime.sql.run_sql(name, "SELECT 1")
        with pytest.raises(Upstream) as schema:
            runtime.schemas.schema(name)
        assert not status.ok
        said = [str(status.error), caught.value.message, schema.value.message]
        messages[name] = [text.replace(str(port), "PORT") for text in said]
    assert messages["web"] == messages["closed"]
    assert len(set(messages["web"])) == 1
    assert messages["web"][0] == f"cannot connect to a {db_type} server at 127.0.0.1:PORT"
    assert not any(word in " ".join(messages["web"]) for word in ("internal", "HTTP", "banner", "400"))
