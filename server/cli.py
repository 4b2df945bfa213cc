"""`dbgpt-tools serve` (REST + MCP over HTTP on one port) and `dbgpt-tools mcp` (MCP over stdio)."""

from __future__ import annotations

import argparse
import gc
import logging
import sys

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings

log = logging.getLogger("dbgpt_tools.server")


def serve(settings: Settings) -> int:
    """Run the HTTP server until interrupted."""
    import uvicorn

    from server.app import LOOPBACK, create_app

    if not settings.api_keys:
        if settings.host not in LOOPBACK:
            log.error("refusing to listen on %s without API keys: set DBGPT_API_KEYS", settings.host)
            return 2
        log.warning("no API keys configured (DBGPT_API_KEYS): anyone on this machine can call the API")
    app = create_app(Runtime(settings), owns_runtime=True, warm_up=settings.warm_up)
    gc.freeze()  # start-up objects (libraries, schemas) are permanent: later collections skip them
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def mcp_stdio(settings: Settings) -> int:
    """Serve MCP on stdin/stdout until the client closes it."""
    from server.mcp import build_mcp_server

    runtime = Runtime(settings)
    try:
        build_mcp_server(runtime).run("stdio")
    finally:
        runtime.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbgpt-tools", description="DB-GPT's chat-with-your-data functions.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="REST (/api/v2) and MCP (/mcp) over HTTP on one port")
    serve_parser.add_argument("--host", help="bind address (default DBGPT_HOST or 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port (default DBGPT_PORT or 5670)")
    commands.add_parser("mcp", help="MCP over stdio, for desktop agents")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per model request is noise
    overrides = {name: value for name in ("host", "port") if (value := getattr(args, name, None)) is not None}
    settings = Settings(**overrides)
    return serve(settings) if args.command == "serve" else mcp_stdio(settings)
