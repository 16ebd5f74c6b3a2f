"""The mail and SMS texts, changed by the administrator through the API: every change is a new
version (who, when, why); a version that could not be sent is refused with what is wrong."""

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import ConfigDict, Field

from services import wording
from services.access import Permission, Principal
from services.api import schemas
from services.api.deps import ContainerDep
from services.api.security import Allowed
from services.db import UnitOfWorkFactory
from services.models import MessageTemplate

router = APIRouter(prefix="/templates", tags=["templates"])
Reader = Annotated[Principal, Depends(Allowed(Permission.TEMPLATES_READ))]
Writer = Annotated[Principal, Depends(Allowed(Permission.TEMPLATES_WRITE))]
Key = Path(pattern=wording.KEY.pattern, max_length=100, description="the event, e.g. vatandas.yanit-olumlu")
CATEGORY = r"^[A-Z0-9-]{2,40}$"
CategoryQuery = Query(
    None, alias="categoryCode", pattern=CATEGORY, description="a category's own text; none: the general one"
)


class Camel(schemas.Camel):
    model_config = ConfigDict(from_attributes=True)


class PlaceholderOut(Camel):
    name: str
    description: str
    sample: str | int


class VersionOut(Camel):
    version: int
    subject: str
    body: str
    changed_by: str
    changed_at: datetime
    note: str | None


class TemplateOut(VersionOut):
    key: str
    medium: wording.Medium
    category_code: str | None
    description: str = Field(description="when it is sent and to whom")
    placeholders: list[PlaceholderOut] = Field(description="the only names the text may use: {{ name }}")


class TemplateDetail(TemplateOut):
    history: list[VersionOut] = Field(description="every version, newest first")


class TemplateIn(Camel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field("", max_length=200, description="one line; empty for SMS and durum")
    body: str = Field(min_length=1, max_length=10_000)
    note: str | None = Field(None, max_length=500, description="why it was changed")
    category_code: str | None = Field(
        None, pattern=CATEGORY, description="this category's own text (the general one applies to the rest)"
    )


class PreviewIn(Camel):
    model_config = ConfigDict(extra="forbid")
    subject: str | None = Field(None, max_length=200, description="a draft; none: the current text")
    body: str | None = Field(None, max_length=10_000, description="a draft; none: the current text")
    values: dict[str, str | int] = Field(default_factory=dict, description="values over the samples")
    category_code: str | None = Field(None, pattern=CATEGORY)


class PreviewOut(Camel):
    subject: str
    body: str


def _refused(error: wording.TemplateError) -> HTTPException:
    if isinstance(error, wording.UnknownTemplate):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(error))
    detail: dict[str, Any] = {
        "type": "value_error",
        "loc": ["body", error.field] if error.field else ["body"],
        "msg": str(error),
    }
    context = {"line": error.line, "unknownPlaceholders": list(error.unknown)}
    detail["ctx"] = {name: value for name, value in context.items() if value}
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [detail])


def _out(row: MessageTemplate, **extra: Any) -> dict[str, Any]:
    try:
        description, placeholders = wording.describe(row.key, row.medium)
    except wording.UnknownTemplate:  # stored by an earlier release, no longer sent
        description, placeholders = "Bu sürümde gönderilmiyor.", []
    return {
        **VersionOut.model_validate(row).model_dump(),
        "key": row.key,
        "medium": row.medium,
        "category_code": row.category_code,
        "description": description,
        "placeholders": [PlaceholderOut.model_validate(p) for p in placeholders],
        **extra,
    }


def _detail(
    uow_factory: UnitOfWorkFactory, key: str, medium: str, category_code: str | None
) -> dict[str, Any]:
    versions = wording.history(uow_factory, key, medium, category_code)
    if not versions:
        which = f"'{category_code}' kategorisine özel" if category_code else "genel"
        raise wording.UnknownTemplate(f"'{key}' ({medium}) için {which} bir metin yok.")
    return _out(versions[0], history=[VersionOut.model_validate(v) for v in versions])


def _preview(
    uow_factory: UnitOfWorkFactory, key: str, medium: wording.Medium, body: PreviewIn
) -> wording.Text:
    with uow_factory() as uow:
        return wording.preview(
            uow.session,
            key,
            medium,
            category_code=body.category_code,
            subject=body.subject,
            body=body.body,
            values=body.values,
        )


async def _run(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except wording.TemplateError as error:
        raise _refused(error) from None


@router.get("", response_model=list[TemplateOut], response_model_by_alias=True)
async def list_templates(container: ContainerDep, caller: Reader) -> list[Mapping[str, Any]]:
    """The current version of every text (each key, medium and category of its own)."""
    rows = await asyncio.to_thread(wording.list_current, container.uow)
    return [_out(row) for row in rows]


@router.get("/{key}/{medium}", response_model=TemplateDetail, response_model_by_alias=True)
async def get_template(
    container: ContainerDep,
    caller: Reader,
    medium: wording.Medium,
    key: str = Key,
    category_code: str | None = CategoryQuery,
) -> Mapping[str, Any]:
    """One text with its version history: who changed what, when and why."""
    result: Mapping[str, Any] = await _run(_detail, container.uow, key, medium, category_code)
    return result


@router.put("/{key}/{medium}", response_model=TemplateDetail, response_model_by_alias=True)
async def put_template(
    container: ContainerDep, caller: Writer, body: TemplateIn, medium: wording.Medium, key: str = Key
) -> Mapping[str, Any]:
    """A new version, checked before it is stored: one-line subject (none for SMS), valid Jinja2,
    only the key's placeholders, renders with the sample values. It is sent from now on."""
    await _run(
        wording.save,
        container.uow,
        key=key,
        medium=medium,
        category_code=body.category_code,
        subject=body.subject,
        body=body.body,
        note=body.note,
        changed_by=caller.actor,
    )
    result: Mapping[str, Any] = await _run(_detail, container.uow, key, medium, body.category_code)
    return result


@router.post("/{key}/{medium}/preview", response_model=PreviewOut, response_model_by_alias=True)
async def preview_template(
    container: ContainerDep, caller: Reader, body: PreviewIn, medium: wording.Medium, key: str = Key
) -> PreviewOut:
    """The text as it would be sent: a draft or the current version, with the given values over
    the samples (nothing is stored or sent)."""
    text: wording.Text = await _run(_preview, container.uow, key, medium, body)
    return PreviewOut(subject=text.subject, body=text.body)
