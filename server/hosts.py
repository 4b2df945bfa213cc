"""Which `Host` a request may name and which `Origin` a write may come from, so that a web page on another site
cannot drive the server through its visitor's browser: DNS rebinding (an attacker's name resolving to 127.0.0.1)
meets a foreign `Host`; a cross-site form or fetch meets a foreign `Origin`. One definition, used by the whole
app and by the MCP transport's own check."""

from __future__ import annotations

from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from dbgpt_tools.errors import Forbidden
from dbgpt_tools.settings import Settings
from server.responses import dbgpt_error_response

LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "testserver")  # as `Host` spells them; testserver: Starlette's
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
DEFAULT_PORTS = {"http": 80, "https": 443}


def split_host(host: str) -> tuple[str, int | None]:
    """`name[:port]` (IPv6 in brackets) as the lower-cased name and the port, if any; a bad port gives -1."""
    host = host.strip().lower()
    name, port = host, ""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name += "]"
        port = rest[1:] if rest.startswith(":") else rest
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    if not port:
        return name, None
    return name, int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else -1


def allowed_hosts(settings: Settings) -> list[tuple[str, int | None]] | None:
    """The `Host` names the server answers, each with its port (None: any port), or None for any name: a loopback
    server answers its loopback names and DBGPT_ALLOWED_HOSTS; any other server those, or anything when none are
    set (its API keys are the guard)."""
    extra = [split_host(host) for host in settings.allowed_hosts]
    if settings.host not in LOOPBACK and not extra:
        return None
    return [*((name, None) for name in LOOPBACK_NAMES), *extra]


def host_allowed(host: str, settings: Settings) -> bool:
    """Whether the server answers a request whose `Host` header is `host`."""
    allowed = allowed_hosts(settings)
    if allowed is None:
        return True
    name, port = split_host(host)
    return port != -1 and any(
        name == allowed_name and allowed_port in (None, port) for allowed_name, allowed_port in allowed
    )


def same_origin(origin: str, host: str, scheme: str) -> bool:
    """Whether an `Origin` header names the server that received the request on `host` over `scheme`."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port out of range or not a number
        return False
    name, port = split_host(host)
    return (
        parts.scheme == scheme
        and (parts.hostname or "") == name.strip("[]")
        and origin_port == (port or DEFAULT_PORTS.get(scheme))
    )


def refusal(scope: Scope, settings: Settings) -> Forbidden | None:
    """Why a request must be refused (a foreign `Host`, or a write from a foreign `Origin`), or None."""
    headers = Headers(scope=scope)
    host = headers.get("host")
    if host is not None and not host_allowed(host, settings):
        return Forbidden(
            "this server does not answer for that Host name (DNS rebinding guard; see DBGPT_ALLOWED_HOSTS)"
        )
    origin = headers.get("origin")
    if origin is None or scope["method"] in SAFE_METHODS:
        return None
    if host is None or not same_origin(origin, host, scope.get("scheme", "http")):
        return Forbidden("cross-origin write refused: the Origin header does not name this server")
    return None


class HostOriginMiddleware:
    """Refuse foreign `Host` names and cross-origin writes with HTTP 403 in DB-GPT's envelope."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (error := refusal(scope, self.settings)) is not None:
            await dbgpt_error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def mcp_transport_security(settings: Settings) -> TransportSecuritySettings:
    """The MCP transport's own Host/Origin check, on the same names."""
    allowed = allowed_hosts(settings)
    if allowed is None:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = [
        pattern for name, port in allowed for pattern in ((name, f"{name}:*") if port is None else (f"{name}:{port}",))
    ]
    origins = [f"{scheme}://{host}" for scheme in DEFAULT_PORTS for host in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)
