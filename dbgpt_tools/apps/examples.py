"""The example apps registered on first start: an analyst over the sample database and a helper over the sample
knowledge space (each only when its resource is registered too)."""

from __future__ import annotations

import logging

from dbgpt_tools.apps.models import AppDetail, AppIn, AppResource
from dbgpt_tools.apps.registry import AppRegistry
from dbgpt_tools.errors import Conflict
from dbgpt_tools.knowledge.sample_space import SAMPLE_SPACE_NAME
from dbgpt_tools.sql.sample_db import SAMPLE_DB_NAME

log = logging.getLogger(__name__)

SALES_ANALYST = AppIn(
    app_code="sales_analyst",
    app_name="Sales analyst",
    app_describe="Answers questions about the sample shop's sales with SQL on sample_sales.",
    details=[AppDetail(agent_name="DataScientist", resources=[AppResource(type="database", value=SAMPLE_DB_NAME)])],
)
DOCS_HELPER = AppIn(
    app_code="docs_helper",
    app_name="Docs helper",
    app_describe="Answers questions about dbgpt-tools from its documentation, citing it.",
    details=[
        AppDetail(
            agent_name="Summarizer",
            resources=[AppResource(type="knowledge", value=SAMPLE_SPACE_NAME)],
            prompt_template="You help users of dbgpt-tools. Answer briefly, with the setting names and commands "
            "the documentation gives.",
        )
    ],
)


def register_example_apps(apps: AppRegistry, sample_db: bool, sample_space: bool) -> None:
    """Save the example apps whose resources are registered, unless they exist (another worker's, or edited)."""
    for app, wanted in ((SALES_ANALYST, sample_db), (DOCS_HELPER, sample_space)):
        if not wanted:
            continue
        try:
            apps.create(app)
        except Conflict:
            continue
        log.info("registered the example app %s", app.app_code)
