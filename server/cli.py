"""`dbgpt-tools serve` (REST + MCP over HTTP on one port, the OpenAI-compatible model API on a second),
`dbgpt-tools mcp` (MCP over stdio), `dbgpt-tools db upgrade|current|downgrade` (the metadata store's schema) and
`dbgpt-tools webui install` (DB-GPT's web UI, served at `/`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings

log = logging.getLogger("dbgpt_tools.server")


def serve(settings: Settings, workers: int = 1) -> int:
    """Run the HTTP server until interrupted; `workers` > 1: that many processes share the port, each with its
    own runtime on the same settings (state lives in the metadata store, so any of them can serve any request)."""
    import uvicorn

    from server.app import app_from_environment
    from server.hosts import LOOPBACK
    from server.http_protocol import TimedHttpProtocol
    from server.model_api import with_model_api
    from server.webui import installed

    if not settings.api_keys:
        if settings.host not in LOOPBACK:
            log.error("refusing to listen on %s without API keys: set DBGPT_API_KEYS", settings.host)
            return 2
        log.warning("no API keys configured (DBGPT_API_KEYS): anyone on this machine can call the API")
    if installed(settings.resolved_webui_dir):
        login = " (log in at /login with an API key)" if settings.api_keys else ""
        log.info("DB-GPT's web UI is served at http://%s:%d/%s", settings.host, settings.port, login)
    else:
        log.info("DB-GPT's web UI is not installed: `dbgpt-tools webui install` fetches it")
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": False,
        "http": TimedHttpProtocol,  # slow clients are disconnected (DBGPT_HTTP_HEADER_TIMEOUT, _BODY_TIMEOUT)
    }
    if workers == 1:
        app = with_model_api(app_from_environment(settings), options)  # and the model API on its port, if on
        if app is None:
            return 2
        uvicorn.run(app, **options)
        return 0
    if settings.model_api_port:  # each worker would need the port, and its own copy of the model behind it
        log.warning("the model API (DBGPT_MODEL_API_PORT) is served with --workers 1 only: not started")
    if settings.chroma_url is None:  # Chroma's local store is one process's: another sees its writes late or never
        log.error("--workers %d need a Chroma server for knowledge: run `chroma run --path DIR --port 8000` and set "
                  "DBGPT_CHROMA_URL=http://127.0.0.1:8000", workers)  # fmt: skip
        return 2
    if settings.llm_backend == "local":
        log.warning("each of the %d workers starts its own copy of the local model", workers)
    os.environ.update({"DBGPT_HOST": settings.host, "DBGPT_PORT": str(settings.port)})  # the workers' settings
    uvicorn.run("server.app:app_from_environment", factory=True, workers=workers, **options)
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


def database(settings: Settings, action: str, revision: str | None) -> int:
    """Show or change the metadata store's schema revision (printed on stdout)."""
    from sqlalchemy import create_engine

    from dbgpt_tools.store import metadata as migrate

    engine = create_engine(settings.resolved_metadata_url)
    try:
        if action == "upgrade":
            print(migrate.upgrade(engine))
        elif action == "downgrade":
            print(migrate.downgrade(engine, revision or ""))
        else:
            current = migrate.current_revision(engine)
            print(f"{current or '(none)'} (newest: {migrate.head_revision()})")
    finally:
        engine.dispose()
    return 0


def webui_install(settings: Settings, wheel: str | None, directory: str | None) -> int:
    """Install DB-GPT's web UI (from `wheel`, or the pinned one through pip) where `serve` looks for it."""
    from pathlib import Path

    from server.webui_install import REQUIREMENT, WebUiInstallError, install

    target = Path(directory) if directory else settings.resolved_webui_dir
    try:
        result = install(target, Path(wheel) if wheel else None)
    except WebUiInstallError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    state = "installed" if result.fresh else "already installed"
    print(f"DB-GPT's web UI ({REQUIREMENT}, {result.files} files) {state} in {result.directory}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbgpt-tools", description="DB-GPT's chat-with-your-data functions.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve", help="REST (/api) and MCP (/mcp) over HTTP on one port; the model API on DBGPT_MODEL_API_PORT (8100)"
    )
    serve_parser.add_argument("--host", help="bind address (default DBGPT_HOST or 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port (default DBGPT_PORT or 5670)")
    serve_parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes sharing the port (default 1); use a shared DBGPT_METADATA_URL",
    )
    commands.add_parser("mcp", help="MCP over stdio, for desktop agents")
    db_parser = commands.add_parser("db", help="the metadata store's schema (migrated automatically at start)")
    db_actions = db_parser.add_subparsers(dest="action", required=True)
    db_actions.add_parser("upgrade", help="migrate the store to the newest schema")
    db_actions.add_parser("current", help="show the store's schema revision")
    db_actions.add_parser("downgrade", help="migrate the store back to a revision").add_argument("revision")
    webui_parser = commands.add_parser("webui", help="DB-GPT's web UI, served by `serve` at /")
    webui_actions = webui_parser.add_subparsers(dest="action", required=True)
    webui_install_parser = webui_actions.add_parser("install", help="fetch dbgpt-app's wheel and unpack its UI")
    webui_install_parser.add_argument("--wheel", help="use this downloaded dbgpt-app wheel (checked) instead of pip")
    webui_install_parser.add_argument("--dir", help="install here (default DBGPT_WEBUI_DIR or <data dir>/webui)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per model request is noise
    overrides = {name: value for name in ("host", "port") if (value := getattr(args, name, None)) is not None}
    settings = Settings(**overrides)
    if args.command == "webui":
        return webui_install(settings, args.wheel, args.dir)
    if args.command == "db":
        return database(settings, args.action, getattr(args, "revision", None))
    return serve(settings, args.workers) if args.command == "serve" else mcp_stdio(settings)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
