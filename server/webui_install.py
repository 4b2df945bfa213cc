"""`dbgpt-tools webui install`: DB-GPT's web UI, taken from the MIT-licensed `dbgpt-app` wheel.

The wheel is fetched by pip without its dependencies (or given as a file), checked against a pinned SHA-256, and only
its `dbgpt_app/static/web/` is unpacked: into a staging directory beside the target, which then replaces the
target in one rename. Downloads are cached in `~/.cache/dbgpt-tools/wheels/`; a target already holding this wheel's
UI is left as it is.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REQUIREMENT = "dbgpt-app==0.8.2"
WHEEL_NAME = "dbgpt_app-0.8.2-py3-none-any.whl"
WHEEL_SHA256 = "95b07e5453d6fc9d5ee4004a72dcf8c245d1b68c7077e4b8db81c17f6509bfb1"
UI_PREFIX = "dbgpt_app/static/web/"
CACHE_DIR = Path.home() / ".cache" / "dbgpt-tools" / "wheels"
MARKER = ".dbgpt-webui"  # in an installed UI: the SHA-256 of the wheel it came from


class WebUiInstallError(Exception):
    """The UI could not be installed; the message says why."""


@dataclass(frozen=True)
class Installed:
    """Where the UI is, how many files it has, and whether this install put them there."""

    directory: Path
    files: int
    fresh: bool


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(wheel: Path, expected: str = WHEEL_SHA256) -> None:
    """Refuse a wheel whose SHA-256 is not `expected`."""
    if not wheel.is_file():
        raise WebUiInstallError(f"no wheel at {wheel}")
    actual = sha256_of(wheel)
    if actual != expected:
        raise WebUiInstallError(
            f"{wheel.name}: SHA-256 mismatch (expected {expected}, got {actual}); it is not the pinned {REQUIREMENT}"
        )


def download_wheel(cache_dir: Path = CACHE_DIR) -> Path:
    """The pinned wheel: from the cache, or downloaded by pip (no dependencies) and verified into it."""
    cached = cache_dir / WHEEL_NAME
    if cached.is_file() and sha256_of(cached) == WHEEL_SHA256:
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as downloads:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input"]
        command += ["--disable-pip-version-check", "--dest", downloads, REQUIREMENT]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if line.strip()][-3:]
            reason = " / ".join(lines)[-600:] or f"exit status {result.returncode}"
            raise WebUiInstallError(f"pip could not download {REQUIREMENT}: {reason}")
        fetched = Path(downloads) / WHEEL_NAME
        verify(fetched)
        os.replace(fetched, cached)
    return cached


def install(
    target: Path, wheel: Path | None = None, *, expected_sha256: str = WHEEL_SHA256, cache_dir: Path = CACHE_DIR
) -> Installed:
    """Install the UI of `wheel` (default: the pinned one, downloaded or cached) into `target`, unless it is
    there already. A `target` this command did not make is never replaced."""
    target = target.expanduser().absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two installs at once: the second finds the first's result
        marker = target / MARKER
        if marker.is_file() and marker.read_text().strip() == expected_sha256 and (target / "index.html").is_file():
            return Installed(target, _count_files(target), fresh=False)
        if target.exists() and not marker.is_file() and any(target.iterdir()):
            raise WebUiInstallError(f"{target} holds files this command did not put there: move it away first")
        wheel = wheel if wheel is not None else download_wheel(cache_dir)
        verify(wheel, expected_sha256)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-staging-", dir=target.parent))
        try:
            files = _unpack(wheel, staging)
            (staging / MARKER).write_text(f"{expected_sha256}\n")
            _replace(target, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return Installed(target, files, fresh=True)


def _unpack(wheel: Path, destination: Path) -> int:
    """Extract the wheel's `dbgpt_app/static/web/` files into `destination`; how many there were."""
    count = 0
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if not member.filename.startswith(UI_PREFIX) or member.is_dir():
                    continue
                relative = PurePosixPath(member.filename[len(UI_PREFIX) :])
                if relative.is_absolute() or ".." in relative.parts or "\\" in member.filename:
                    raise WebUiInstallError(f"{wheel.name}: refusing the unsafe member name {member.filename!r}")
                path = destination.joinpath(*relative.parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, path.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
                count += 1
    except zipfile.BadZipFile as error:
        raise WebUiInstallError(f"{wheel.name} is not a valid wheel: {error}") from None
    if not (destination / "index.html").is_file():
        raise WebUiInstallError(f"{wheel.name} holds no web UI ({UI_PREFIX}index.html)")
    return count


def _replace(target: Path, staging: Path) -> None:
    """Put `staging` in the place of `target` (whose old content is removed after the swap)."""
    if not target.exists():
        staging.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _count_files(directory: Path) -> int:
    return sum(1 for path in directory.rglob("*") if path.is_file() and path.name != MARKER)
