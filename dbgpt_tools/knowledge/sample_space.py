"""The sample knowledge space: this project's own documentation (README and `docs/`), registered on first start
so that a new user can ask right away; its documents are embedded in the background."""

from __future__ import annotations

import logging
from pathlib import Path

from dbgpt_tools.errors import Conflict
from dbgpt_tools.knowledge.documents import SourceFile
from dbgpt_tools.knowledge.models import SpaceIn
from dbgpt_tools.knowledge.service import KnowledgeService

log = logging.getLogger(__name__)
SAMPLE_SPACE_NAME = "dbgpt_tools_docs"
SAMPLE_SPACE_DESC = "dbgpt-tools' own documentation: set-up, settings, the four faces, the API, security."
PROJECT = Path(__file__).resolve().parents[2]


def sample_documents(project: Path = PROJECT) -> list[Path]:
    """The documentation files the sample space holds (none when the package runs without its repository)."""
    docs = sorted((project / "docs").glob("*.md")) if (project / "docs").is_dir() else []
    readme = project / "README.md"
    return ([readme] if readme.is_file() else []) + docs


def register_sample_space(knowledge: KnowledgeService, project: Path = PROJECT) -> None:
    """Create the sample space with its documents, unless a space has its name (another worker's, or the user's)."""
    files = sample_documents(project)
    if not files:
        log.info("no documentation next to the package: the sample knowledge space is not registered")
        return
    try:
        space = knowledge.spaces.create(SpaceIn(name=SAMPLE_SPACE_NAME, desc=SAMPLE_SPACE_DESC))
    except Conflict:
        return
    for path in files:
        source = SourceFile(path.name, path.read_bytes())
        knowledge.add_document(space.id, path.name, file=source, doc_source="sample")
    log.info(
        "registered the sample knowledge space %s (%d documents, embedding in the background)", space.name, len(files)
    )
