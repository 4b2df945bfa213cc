"""Where datasources may be. A file database must resolve (home, symlinks, `..` followed) inside an allowed root and
is never one of our own files (the metadata store, model files, knowledge indexes), however it is spelled, hard
links included. A server is a host name or an IP address, and must be on the allowed networks when
`DBGPT_DATASOURCE_NETWORKS` is set; the connection then goes to the address that was checked."""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path

from sqlalchemy import make_url

from dbgpt_tools.errors import Forbidden, InvalidInput
from dbgpt_tools.settings import Settings

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_NAME_PATTERN = rf"^{_LABEL}(?:\.{_LABEL})*\.?$"  # also every IPv4 address; IPv6 addresses are checked apart
_HOST_NAME = re.compile(HOST_NAME_PATTERN.rstrip("$") + r"\Z")
_SPACE = "\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # str.isspace()
NOT_A_FILE_PATTERNS = (
    rf"^[{_SPACE}]*$",  # blank
    r"\?",  # URI parameters (`?mode=rwc`)
    r"^[A-Za-z][A-Za-z0-9+.-]*:",  # a scheme: `file:`, `md:` (MotherDuck)
    r"(^|/):[^/]*/*$",  # a special name: `:memory:`
)
"""A `db_path` matching any of these is not the path of a file (also in the JSON schema, as `not`)."""
_NOT_A_FILE = [re.compile(re.sub(r"\$$", r"\\Z", pattern)) for pattern in NOT_A_FILE_PATTERNS]  # `$` as JSON means it


def not_a_file(db_path: str) -> bool:
    """Whether `db_path` is spelled as something other than a file's path (see `NOT_A_FILE_PATTERNS`)."""
    return "\x00" in db_path or any(pattern.search(db_path) for pattern in _NOT_A_FILE)


_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal", ".migrate.lock")

# --- Files ------------------------------------------------------------------------------------------------------


def internal_paths(settings: Settings) -> tuple[list[Path], list[Path]]:
    """Our own files (the SQLite metadata store and its side files) and directories (models, knowledge)."""
    files: list[Path] = []
    url = make_url(settings.resolved_metadata_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        store = Path(url.database).expanduser().resolve()
        files = [store, *(store.with_name(store.name + suffix) for suffix in _SQLITE_SIDE_FILES)]
    dirs = [settings.resolved_model_dir.expanduser().resolve(), settings.data_dir.expanduser().resolve() / "knowledge"]
    return files, dirs


def _same_file_as_ours(path: Path, files: list[Path], dirs: list[Path]) -> bool:
    """Whether `path` is one of our files by another name (a hard link shares its device and inode)."""
    try:
        target = path.stat()
    except OSError:
        return False
    ours = [*files, *(entry for folder in dirs if folder.is_dir() for entry in folder.rglob("*"))]
    for candidate in ours:
        try:
            stat = candidate.stat()
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) == (target.st_dev, target.st_ino):
            return True
    return False


def confine_path(settings: Settings, db_path: str) -> Path:
    """`db_path` resolved, relative to the data dir; refused outside `settings.allowed_db_roots`, as one of our own
    files, or spelled as something other than a file (`:memory:`, `md:...`, `file:...?mode=rwc`)."""
    if not db_path:
        raise InvalidInput("db_path is required for a file database", field="db_path")
    if not_a_file(db_path):
        raise InvalidInput(f"db_path {db_path!r} must be the path of a database file", field="db_path")
    roots = settings.allowed_db_roots
    candidate = Path(db_path).expanduser()
    resolved = (candidate if candidate.is_absolute() else roots[0] / candidate).resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise InvalidInput(
            f"db_path {db_path!r} is outside the allowed roots ({allowed}); add a directory to DBGPT_DB_ROOTS",
            field="db_path",
        )
    refuse_own_file(settings, resolved, db_path, "db_path")
    return resolved


def refuse_own_file(settings: Settings, resolved: Path, given: str, field: str) -> None:
    """Refuse a resolved path that is one of our own files, by its name or another (a hard link)."""
    files, dirs = internal_paths(settings)
    if resolved in files or any(resolved.is_relative_to(folder) for folder in dirs):
        raise Forbidden(f"{field} {given!r} is one of dbgpt-tools' own files", field=field)
    if _same_file_as_ours(resolved, files, dirs):
        raise Forbidden(f"{field} {given!r} is one of dbgpt-tools' own files (by another name)", field=field)


def database_file(settings: Settings, db_path: str, read_only: bool) -> Path:
    """The confined file of a datasource; a read-only one must exist (it cannot be created)."""
    path = confine_path(settings, db_path)
    if read_only and not path.is_file():
        raise InvalidInput(
            f"db_path {db_path!r} does not exist (a read-only datasource needs an existing file)", field="db_path"
        )
    return path


# --- Hosts ------------------------------------------------------------------------------------------------------


def check_host(host: str) -> str:
    """`host` if it is one host name or one IP address (an IPv6 one without brackets or a zone); else ValueError.

    No socket directories, no lists of hosts, no user@host or host:port: the port has its own field.
    """
    if ":" in host and "%" not in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            pass
    if not _HOST_NAME.match(host) or len(host) > 253:
        raise ValueError(f"db_host {host!r} must be a host name or an IP address (the port goes in db_port)")
    return host


def _networks(settings: Settings) -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for item in settings.datasource_networks:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item.lower().rstrip("."))
    return names, networks


def connect_address(settings: Settings, host: str, port: int) -> str:
    """The address to connect to for `host`: the host itself when every network is allowed; otherwise one of its
    addresses that is on an allowed network (a host name listed by name is allowed at any address), so the
    connection goes where the check looked (no second lookup for DNS to answer differently)."""
    if not settings.datasource_networks:
        return host
    names, networks = _networks(settings)
    try:
        found = socket.getaddrinfo(host, port or None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Forbidden(f"db_host {host!r} could not be resolved", field="db_host") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    listed = host.lower().rstrip(".") in names
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if listed or any(ip in network for network in networks):
            return address
    raise Forbidden(
        f"db_host {host!r} is not on the networks datasources may connect to (DBGPT_DATASOURCE_NETWORKS)",
        field="db_host",
    )
