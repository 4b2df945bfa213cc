"""Apps in the metadata store: create, update, delete, get, list, and what an app answers with.

An app answers in the mode its first resource calls for: a datasource (`database`) → chat_data on it, a knowledge
space (`knowledge`) → chat_knowledge on it, none → chat_normal; its prompt template guides the model (chat_normal
and chat_knowledge; chat_data keeps its own SQL instructions). A resource deleted after the app was saved is not
refused: the app then answers with the resource's own 404, naming it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dbgpt_tools.apps.models import DATASOURCE_TYPES, KNOWLEDGE_TYPES, App, AppIn, AppPage, AppUpdate
from dbgpt_tools.chat.models import ChatMode
from dbgpt_tools.errors import Conflict, NotFound, validated
from dbgpt_tools.store.lookup import check_page, refuse_taken_name
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import AppRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppTarget:
    """How an app answers: the mode, its target, and the prompt template."""

    mode: ChatMode
    param: str | None
    prompt_template: str | None


def target_of(row: AppRow) -> AppTarget:
    """The mode an app's first resource calls for (chat_normal without one)."""
    detail = row.details[0] if row.details else {}
    template = detail.get("prompt_template") or None
    for resource in detail.get("resources") or []:
        kind = str(resource.get("type", "")).lower()
        if kind in DATASOURCE_TYPES:
            return AppTarget(ChatMode.chat_data, str(resource["value"]), template)
        if kind in KNOWLEDGE_TYPES:
            return AppTarget(ChatMode.chat_knowledge, str(resource["value"]), template)
    return AppTarget(ChatMode.chat_normal, None, template)


class AppRegistry:
    """Apps by `app_code`; names are unique too."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def create(self, data: AppIn | Mapping[str, Any]) -> App:
        """Save a new app. A code or name in use: Conflict."""
        request = data if isinstance(data, AppIn) else validated(AppIn, data)
        code = request.app_code or _code_from(request.app_name)
        row = AppRow(app_code=code, **_fields(request))
        try:
            with self._store.session() as session:
                if session.get(AppRow, code) is not None:
                    raise Conflict(f"app {code!r} already exists", field="app_code")
                _refuse_taken_name(session, request.app_name, None)
                session.add(row)
                session.flush()
        except IntegrityError:
            raise Conflict(f"app {request.app_name!r} already exists", field="app_name") from None
        log.info("app %s created", code)
        return App.from_row(row)

    def update(self, data: AppUpdate | Mapping[str, Any]) -> App:
        """Replace an app's fields (`app_code` names it)."""
        request = data if isinstance(data, AppUpdate) else validated(AppUpdate, data)
        try:
            with self._store.session() as session:
                row = _stored(session, request.app_code)
                _refuse_taken_name(session, request.app_name, row.app_code)
                for name, value in _fields(request).items():
                    setattr(row, name, value)
                session.flush()
        except IntegrityError:
            raise Conflict(f"app {request.app_name!r} already exists", field="app_name") from None
        return App.from_row(row)

    def delete(self, code: str) -> App:
        """Remove an app (its conversations stay)."""
        with self._store.session() as session:
            row = _stored(session, code)
            session.delete(row)
        return App.from_row(row)

    def get(self, code: str) -> App:
        """The app with this code."""
        with self._store.session() as session:
            return App.from_row(_stored(session, code))

    def row(self, code: str) -> AppRow:
        """The stored row (core use)."""
        with self._store.session() as session:
            row = _stored(session, code)
            session.expunge(row)
            return row

    def page(self, page: int = 1, page_size: int = 20) -> AppPage:
        """One page of the apps, by name."""
        check_page(page, page_size)
        with self._store.session() as session:
            total = session.scalar(select(func.count()).select_from(AppRow)) or 0
            rows = session.scalars(
                select(AppRow).order_by(AppRow.app_name).offset((page - 1) * page_size).limit(page_size)
            ).all()
            return AppPage.of([App.from_row(row) for row in rows], total, page, page_size)


def _fields(request: AppIn) -> dict[str, Any]:
    context = request.team_context
    return {
        "app_name": request.app_name,
        "app_describe": request.app_describe,
        "team_mode": request.team_mode,
        "language": request.language,
        "team_context": json.dumps(context) if isinstance(context, dict) else context,
        "user_code": request.user_code,
        "sys_code": request.sys_code,
        "icon": request.icon,
        "details": [detail.model_dump(mode="json", exclude_none=True) for detail in request.details],
    }


def _code_from(name: str) -> str:
    code = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.-")[:48]
    return code or "app"


def _refuse_taken_name(session: Any, name: str, own_code: str | None) -> None:
    taken = Conflict(f"app {name!r} already exists (names are compared whatever their case)", field="app_name")
    refuse_taken_name(session, AppRow.app_code, AppRow.app_name, name, own_code, taken)


def _stored(session: Any, code: str) -> AppRow:
    row = session.get(AppRow, code)
    if row is None:
        raise NotFound(f"no app {code!r}", field="app_code")
    assert isinstance(row, AppRow)
    return row
