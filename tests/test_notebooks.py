"""The notebooks run top to bottom in a real kernel on the real local model, so they never rot."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests.conftest import MODEL_DIR

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
QUICKSTART = NOTEBOOKS / "quickstart.ipynb"
KERNEL = "dbgpt-tools-test"


def this_python_kernel(specs_dir: Path) -> KernelManager:
    """A kernel on this interpreter (the project's venv), whatever kernels the machine has installed."""
    spec_dir = specs_dir / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL,
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(specs_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


class RecordingClient(NotebookClient):
    """Also counts, per cell, the in-place display updates the kernel sent (a streamed answer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.updates: Counter[int] = Counter()

    def process_message(self, msg: dict[str, Any], cell: nbformat.NotebookNode, cell_index: int) -> Any:
        if msg["msg_type"] == "update_display_data":
            self.updates[cell_index] += 1
        return super().process_message(msg, cell, cell_index)


def text_of(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return str(output.text)
    return str(output.get("data", {}).get("text/markdown", ""))


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.local_model
def test_quickstart_runs_on_the_local_model(tmp_path: Path) -> None:
    notebook = nbformat.read(QUICKSTART, as_version=4)
    env = {
        **os.environ,
        "DBGPT_LOCAL_MODEL": "smollm2-135m",
        "DBGPT_DATA_DIR": str(tmp_path / "data"),
        "DBGPT_MODEL_DIR": str(MODEL_DIR),
        "DBGPT_MAX_NEW_TOKENS": "16",
        "DBGPT_LOCAL_CTX": "2048",
    }
    client = RecordingClient(
        notebook,
        km=this_python_kernel(tmp_path / "kernels"),
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # cwd without a .env
    client.execute(env=env)

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    outputs = [output for cell in code for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error" or output.get("name") == "stderr"]
    asks = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.source.startswith("%%dbgpt") and "--sql" not in cell.source.splitlines()[0]
    ]
    assert len(asks) == 2
    for index in asks:  # streamed: several updates of one display, which ends as the whole answer
        (answer,) = notebook.cells[index].outputs
        assert answer.output_type == "display_data" and text_of(answer).strip() not in {"", "…"}
        assert client.updates[index] >= 3
    stored, tool, frame = (
        text_of(next(cell for cell in code if marker in cell.source).outputs[0])
        for marker in ('print(f"', "get_tools", "print(type(top_cities)")
    )
    sample = sqlite3.connect(tmp_path / "data" / "sample_sales.sqlite")
    cities = sample.execute("SELECT COUNT(DISTINCT ship_city) FROM orders WHERE ship_country = 'Germany'").fetchone()[0]
    assert frame.strip() == f"DataFrame ({min(cities, 5)}, 2) ['ship_city', 'orders']" and cities > 0
    assert text_of(notebook.cells[asks[1]].outputs[0]) in stored and " words: " in stored
    assert tool.startswith("success quickstart -> ") and len(tool.strip()) > len("success quickstart ->")
