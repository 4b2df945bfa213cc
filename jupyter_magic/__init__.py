"""IPython extension: `%load_ext jupyter_magic` registers the `%%dbgpt` cell magic, `%dbgpt_ingest` and
`%dbgpt_eval` (see `jupyter_magic.magics`)."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

from jupyter_magic.magics import DbgptMagics


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the magics with the shell (called by `%load_ext jupyter_magic`)."""
    ipython.register_magics(DbgptMagics)
