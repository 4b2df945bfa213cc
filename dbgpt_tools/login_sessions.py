"""Login sessions of the web UI: an API key exchanged for a random token (kept by the browser in a cookie), stored
in the metadata store so every server worker knows it.

The store keeps only the token's SHA-256, and an HMAC of the API key keyed by the token: a session is valid while
it has not expired and its key is still configured, and a copy of the table reveals neither tokens nor keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from dbgpt_tools.errors import InvalidInput, Unauthorized
from dbgpt_tools.settings import Settings
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import LoginSessionRow, utcnow

MAX_TOKEN_CHARS = 128  # tokens are 43 characters; longer cookie values are not looked up


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key_binding(token: str, key: str) -> str:
    return hmac.new(token.encode(), key.encode(), hashlib.sha256).hexdigest()


class LoginSessions:
    """Opens, checks and closes login sessions on the settings' API keys and `session_ttl`."""

    def __init__(self, store: MetadataStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def open(self, key: str) -> str:
        """A new session for an accepted API key: its token (shown once, stored hashed). Expired sessions are
        swept out on the way."""
        if not self._settings.api_keys:
            raise InvalidInput("no API keys are configured (DBGPT_API_KEYS): there is nothing to log in to")
        if not self._settings.accepts_key(key):
            raise Unauthorized("invalid API key")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._store.session() as session:
            session.execute(delete(LoginSessionRow).where(LoginSessionRow.expires_at <= now))
            session.add(
                LoginSessionRow(
                    token_hash=_token_hash(token),
                    key_binding=_key_binding(token, key),
                    created_at=now,
                    expires_at=now + timedelta(seconds=self._settings.session_ttl),
                )
            )
        return token

    def admits(self, token: str) -> bool:
        """Whether `token` is a session that has not expired, opened with a key that is still configured."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return False
        with self._store.session() as session:
            binding = session.scalar(
                select(LoginSessionRow.key_binding).where(
                    LoginSessionRow.token_hash == _token_hash(token), LoginSessionRow.expires_at > utcnow()
                )
            )
        if binding is None:
            return False
        keys = (key.get_secret_value() for key in self._settings.api_keys)
        return any(hmac.compare_digest(binding, _key_binding(token, key)) for key in keys)

    def close(self, token: str) -> None:
        """End a session (nothing happens for an unknown token)."""
        if token and len(token) <= MAX_TOKEN_CHARS:
            with self._store.session() as session:
                session.execute(delete(LoginSessionRow).where(LoginSessionRow.token_hash == _token_hash(token)))
