"""A fake PostgreSQL server that asks for a cleartext password and records everything a client sends, so a test
can prove where a stored password did, and did not, go."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class FakePostgres:
    """Listens on 127.0.0.1; every connection is answered 'no SSL', asked for a password, then refused."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port: int = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def everything(self) -> bytes:
        with self._lock:
            return b"".join(self.received)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._socket.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._talk, args=(client,), daemon=True).start()

    def _talk(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            with client:
                first = self._read_startup(client)
                if first == 80877103:  # SSLRequest: refuse SSL, then the real startup message follows
                    client.sendall(b"N")
                    self._read_startup(client)
                client.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
                kind = client.recv(1)
                length = struct.unpack("!I", _exactly(client, 4))[0]
                self._keep(kind + _exactly(client, length - 4))
                message = b"SFATAL\x00C28P01\x00Mpassword authentication failed for user\x00\x00"
                client.sendall(b"E" + struct.pack("!I", len(message) + 4) + message)
        except (OSError, struct.error):
            return

    def _read_startup(self, client: socket.socket) -> int:
        length = struct.unpack("!I", _exactly(client, 4))[0]
        body = _exactly(client, length - 4)
        self._keep(body)
        return int(struct.unpack("!I", body[:4])[0])

    def _keep(self, data: bytes) -> None:
        with self._lock:
            self.received.append(data)

    def close(self) -> None:
        self._socket.close()


def _exactly(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = client.recv(size - len(data))
        if not piece:
            raise OSError("closed")
        data += piece
    return data


@contextmanager
def fake_postgres() -> Iterator[FakePostgres]:
    server = FakePostgres()
    server._thread.start()
    try:
        yield server
    finally:
        server.close()
