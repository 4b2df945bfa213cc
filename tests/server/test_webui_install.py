"""`dbgpt-tools webui install`: only the wheel's `static/web` is unpacked, from a wheel whose SHA-256 is the pinned
one, atomically and once; failures are clear errors with a non-zero exit. One test installs the real dbgpt-app
0.8.2 wheel (cached in ~/.cache/dbgpt-tools/wheels; scripts/test.sh fetches it) and serves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.cli import main
from server.webui_install import MARKER, REQUIREMENT, WebUiInstallError, download_wheel, install, sha256_of
from tests.scripted import ScriptedChatModel
from tests.server.webui_files import browser, write_wheel

UI = {
    "dbgpt_app/static/web/index.html": "<html>new ui</html>",
    "dbgpt_app/static/web/_next/static/app.js": "js",
    "dbgpt_app/static/web/share/[token]/index.html": "<html>share</html>",
}
OTHER = {
    "dbgpt_app/__init__.py": "",
    "dbgpt_app/static/old_web/index.html": "<html>old ui</html>",
    "dbgpt_app-0.8.2.dist-info/RECORD": "",
}


def files_in(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()}


def test_only_static_web_is_unpacked_and_a_second_install_changes_nothing(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / "fake.whl", {**UI, **OTHER})
    target = tmp_path / "data" / "webui"
    first = install(target, wheel, expected_sha256=sha256_of(wheel))
    assert first.fresh and first.files == 3 and first.directory == target
    assert files_in(target) == {"index.html", "_next/static/app.js", "share/[token]/index.html", MARKER}
    assert (target / "index.html").read_text() == "<html>new ui</html>"
    (target / "index.html").write_text("touched")
    second = install(target, wheel, expected_sha256=sha256_of(wheel))
    assert not second.fresh and (target / "index.html").read_text() == "touched"  # left as it was
    assert sorted(path.name for path in target.parent.iterdir()) == [".webui.install.lock", "webui"]  # no staging


def test_a_new_wheel_replaces_the_old_ui_whole(tmp_path: Path) -> None:
    old = write_wheel(tmp_path / "old.whl", {**UI, "dbgpt_app/static/web/gone.js": "old"})
    new = write_wheel(tmp_path / "new.whl", UI)
    target = tmp_path / "webui"
    install(target, old, expected_sha256=sha256_of(old))
    assert install(target, new, expected_sha256=sha256_of(new)).fresh
    assert "gone.js" not in files_in(target) and (target / MARKER).read_text().strip() == sha256_of(new)
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir()) == ["webui"]


def test_a_wheel_with_another_hash_is_refused_and_nothing_is_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = write_wheel(tmp_path / "dbgpt_app-0.8.2-py3-none-any.whl", {**UI, **OTHER})
    target = tmp_path / "webui"
    assert main(["webui", "install", "--wheel", str(wheel), "--dir", str(target)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "SHA-256 mismatch" in error and sha256_of(wheel) in error
    assert not target.exists()


def test_unsafe_member_names_and_wheels_without_a_ui_are_refused(tmp_path: Path) -> None:
    escaping = write_wheel(tmp_path / "escaping.whl", {**UI, "dbgpt_app/static/web/../../../evil.txt": "x"})
    with pytest.raises(WebUiInstallError, match="unsafe member name"):
        install(tmp_path / "webui", escaping, expected_sha256=sha256_of(escaping))
    empty = write_wheel(tmp_path / "empty.whl", OTHER)
    with pytest.raises(WebUiInstallError, match="holds no web UI"):
        install(tmp_path / "webui", empty, expected_sha256=sha256_of(empty))
    not_zip = tmp_path / "not.whl"
    not_zip.write_text("not a zip")
    with pytest.raises(WebUiInstallError, match="not a valid wheel"):
        install(tmp_path / "webui", not_zip, expected_sha256=sha256_of(not_zip))
    assert not (tmp_path / "webui").exists() and not (tmp_path / "evil.txt").exists()
    assert [path.name for path in tmp_path.iterdir() if path.is_dir()] == []  # no staging left behind


def test_a_directory_it_did_not_make_is_never_replaced(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / "fake.whl", UI)
    target = tmp_path / "webui"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    with pytest.raises(WebUiInstallError, match="did not put there"):
        install(target, wheel, expected_sha256=sha256_of(wheel))
    assert files_in(target) == {"mine.txt"}


def test_a_pip_failure_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an index nobody listens on, no retries, no cache: pip fails at once
    for name, value in {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0", "PIP_TIMEOUT": "2",
                        "PIP_NO_CACHE_DIR": "1", "PIP_FIND_LINKS": "", "PIP_EXTRA_INDEX_URL": ""}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with pytest.raises(WebUiInstallError, match=f"pip could not download {REQUIREMENT}: .+"):
        download_wheel(tmp_path / "cache")
    assert [path.name for path in (tmp_path / "cache").iterdir()] == []  # no half download kept


@pytest.mark.anyio
async def test_the_real_wheel_installs_through_the_command_and_is_served(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "webui"
    assert main(["webui", "install", "--dir", str(target)]) == 0  # the cached wheel, or pip's download of it
    assert capsys.readouterr().out == f"DB-GPT's web UI ({REQUIREMENT}, 502 files) installed in {target}\n"
    assert main(["webui", "install", "--dir", str(target)]) == 0
    assert "already installed" in capsys.readouterr().out
    files = files_in(target)
    assert {"index.html", "404.html", "chat/index.html", "construct/database/index.html"} <= files
    assert "share/[token]/index.html" in files and not any(name.endswith(".py") for name in files)

    runtime = Runtime(settings.model_copy(update={"webui_dir": target}), chat_model=ScriptedChatModel.replying())
    try:
        async with browser(runtime) as client:
            assert (await client.post("/login", data={"key": "test-key"})).status_code == 303
            home = await client.get("/")
            assert home.status_code == 200 and "/_next/static/" in home.text
            script = home.text.split('src="/_next/static/', 1)[1].split('"', 1)[0]
            assert (await client.get(f"/_next/static/{script}")).status_code == 200
            assert (await client.get("/chat")).headers["location"].endswith("/chat/")
            share = await client.get("/share/some-token/")
            assert share.status_code == 200 and share.text == (target / "share/[token]/index.html").read_text()
    finally:
        runtime.close()
