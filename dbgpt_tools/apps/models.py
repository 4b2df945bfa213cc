"""Apps as callers send and receive them, with DB-GPT's field names (`AppModel`, `AppDetailModel`,
`AgentResourceModel`): an app is a saved chat configuration — the resource it answers from (a datasource, a
knowledge space, or none) and a prompt template."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dbgpt_tools.json_types import drop_nulls, null_means_absent
from dbgpt_tools.knowledge.models import aware
from dbgpt_tools.store.models import AppRow

DATASOURCE_TYPES = frozenset({"database", "datasource"})
KNOWLEDGE_TYPES = frozenset({"knowledge", "knowledge_space", "space"})
OneLine = Annotated[str, Field(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
AppCode = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="The app's code.")
]


class AppResource(BaseModel):
    """What an app answers from: `type` database (a datasource's db_name in `value`), knowledge (a space's name)."""

    model_config = ConfigDict(json_schema_extra=null_means_absent, extra="ignore")

    type: OneLine = Field(description="database (or datasource), knowledge, or another DB-GPT resource type.")
    name: OneLine = ""
    value: OneLine = Field(description="The datasource's db_name or the space's name.")
    is_dynamic: bool = False

    _nulls = model_validator(mode="before")(drop_nulls)


class AppDetail(BaseModel):
    """One agent of an app (DB-GPT's `AppDetailModel`): its resources and prompt template."""

    model_config = ConfigDict(json_schema_extra=null_means_absent, extra="ignore")

    agent_name: OneLine | None = None
    node_id: OneLine | None = None
    resources: list[AppResource] = Field(default_factory=list, max_length=16)
    prompt_template: str | None = Field(default=None, max_length=20_000, description="Instructions for the model.")
    llm_strategy: OneLine | None = None
    llm_strategy_value: str | None = Field(default=None, max_length=4096)

    _nulls = model_validator(mode="before")(drop_nulls)


class AppIn(BaseModel):
    """An app as callers create or update it (`app_code` is made from the name when it is not given)."""

    model_config = ConfigDict(json_schema_extra=null_means_absent, extra="ignore")

    app_code: AppCode | None = None
    app_name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]*[^\s][^\x00-\x1f\x7f]*$")]
    app_describe: str = Field(default="", max_length=4096)
    team_mode: OneLine = "single_agent"
    language: Annotated[str, Field(max_length=16, pattern=r"^[A-Za-z_-]*$")] = "en"
    team_context: str | dict[str, Any] | None = None
    user_code: OneLine | None = None
    sys_code: OneLine | None = None
    icon: str | None = Field(default=None, max_length=4096)
    details: list[AppDetail] = Field(default_factory=list, max_length=16)

    _nulls = model_validator(mode="before")(drop_nulls)


class AppUpdate(AppIn):
    """An app as callers update it: its `app_code` names it."""

    app_code: AppCode


class App(BaseModel):
    """An app, as DB-GPT's client reads it."""

    app_code: str
    app_name: str
    app_describe: str
    team_mode: str
    language: str
    team_context: str | None
    user_code: str | None
    sys_code: str | None
    is_collected: str = "false"
    icon: str | None
    created_at: datetime
    updated_at: datetime
    details: list[dict[str, Any]]

    @classmethod
    def from_row(cls, row: AppRow) -> App:
        created, updated = aware(row.created_at), aware(row.updated_at)
        details = [
            {"app_code": row.app_code, "app_name": row.app_name, **detail, "created_at": created, "updated_at": updated}
            for detail in row.details
        ]
        return cls(
            app_code=row.app_code,
            app_name=row.app_name,
            app_describe=row.app_describe,
            team_mode=row.team_mode,
            language=row.language,
            team_context=row.team_context,
            user_code=row.user_code,
            sys_code=row.sys_code,
            icon=row.icon,
            created_at=created,
            updated_at=updated,
            details=details,
        )


class AppPage(BaseModel):
    """A page of apps, as DB-GPT serves it (`app_list`)."""

    app_list: list[App]
    total_count: int
    total_page: int
    current_page: int
    page_size: int

    @classmethod
    def of(cls, apps: list[App], total: int, page: int, page_size: int) -> AppPage:
        pages = math.ceil(total / page_size)
        return cls(app_list=apps, total_count=total, total_page=pages, current_page=page, page_size=page_size)
