"""The catalogue, managed through the API; a change applies to the next routed request."""

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services import catalogue, request_attributes
from services.access import Permission
from services.api import schemas
from services.api.deps import ContainerDep
from services.api.security import Allowed
from services.models import Category, Directorate, Institution, Office
from services.validation import Email

router = APIRouter(prefix="/catalogue", tags=["catalogue"])
# Every member of staff reads the catalogue; changing it is the administrator's.
READ = Depends(Allowed(Permission.CATALOGUE_READ))
WRITE = Depends(Allowed(Permission.CATALOGUE_WRITE))
Code = Path(pattern=r"^[A-Z0-9-]{2,40}$", description="upper-case code, e.g. YOL-CUKUR")


class Camel(schemas.Camel):
    model_config = ConfigDict(from_attributes=True)


class DirectorateIn(Camel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200)
    email: Email
    director_email: Email
    staff_group: str = Field(pattern=r"^[a-z0-9-]{2,100}$")
    director_group: str = Field(pattern=r"^[a-z0-9-]{2,100}$", description="Tasklist group of the director")
    head_email: Email = Field(description="head of department: next level for stalled DİF approvals")


class DirectorateOut(DirectorateIn):
    code: str


class CategoryIn(Camel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200)
    directorate_code: str = Field(pattern=r"^[A-Z0-9-]{2,40}$")
    service_days: int = Field(ge=0, le=365, description="service time in working days (priority normal)")
    default_priority: Literal["acil", "yuksek", "normal"] = Field(
        "normal", description="priority a new request of this category starts with (ISO 10002 7.5)"
    )
    high_service_days: int | None = Field(
        None, ge=0, le=365, description="service time in working days at yüksek (empty: half of normal)"
    )
    urgent_service_hours: int = Field(24, ge=1, le=168, description="service time in clock hours at acil")
    active: bool = True
    description: str | None = Field(None, max_length=500, description="what the category covers (public)")
    attributes: list[request_attributes.Definition] = Field(
        default_factory=list,
        max_length=20,
        description="extra questions asked at intake on every channel (Open311 attributes); "
        "never personal data",
    )

    @field_validator("attributes")
    @classmethod
    def _unique_codes(cls, items: list[request_attributes.Definition]) -> list[request_attributes.Definition]:
        request_attributes.check_definitions(items)
        return items


class CategoryOut(CategoryIn):
    code: str


class InstitutionIn(Camel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200)
    email: Email


class InstitutionOut(InstitutionIn):
    code: str


class OfficeIn(Camel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=200)
    email: Email
    staff_group: str = Field(pattern=r"^[a-z0-9-]{2,100}$")


class OfficeOut(OfficeIn):
    code: str


async def _list(container: ContainerDep, model: type[Any]) -> list[Any]:
    return await asyncio.to_thread(catalogue.list_all, container.uow, model)


async def _put(container: ContainerDep, model: type[Any], code: str, body: BaseModel) -> Any:
    try:
        return await asyncio.to_thread(catalogue.upsert, container.uow, model, code, body.model_dump())
    except catalogue.CatalogueError as error:
        raise schemas.unprocessable(str(error)) from None


@router.get(
    "/directorates", response_model=list[DirectorateOut], response_model_by_alias=True, dependencies=[READ]
)
async def list_directorates(container: ContainerDep) -> list[Any]:
    return await _list(container, Directorate)


@router.put(
    "/directorates/{code}", response_model=DirectorateOut, response_model_by_alias=True, dependencies=[WRITE]
)
async def put_directorate(container: ContainerDep, body: DirectorateIn, code: str = Code) -> Any:
    return await _put(container, Directorate, code, body)


@router.get(
    "/categories", response_model=list[CategoryOut], response_model_by_alias=True, dependencies=[READ]
)
async def list_categories(container: ContainerDep) -> list[Any]:
    return await _list(container, Category)


@router.put(
    "/categories/{code}", response_model=CategoryOut, response_model_by_alias=True, dependencies=[WRITE]
)
async def put_category(container: ContainerDep, body: CategoryIn, code: str = Code) -> Any:
    return await _put(container, Category, code, body)


@router.get(
    "/institutions", response_model=list[InstitutionOut], response_model_by_alias=True, dependencies=[READ]
)
async def list_institutions(container: ContainerDep) -> list[Any]:
    return await _list(container, Institution)


@router.put(
    "/institutions/{code}", response_model=InstitutionOut, response_model_by_alias=True, dependencies=[WRITE]
)
async def put_institution(container: ContainerDep, body: InstitutionIn, code: str = Code) -> Any:
    return await _put(container, Institution, code, body)


OfficeCode = Path(pattern=r"^[a-z0-9-]{2,40}$", description="lower-case code, e.g. eys-sefligi")


@router.get("/offices", response_model=list[OfficeOut], response_model_by_alias=True, dependencies=[READ])
async def list_offices(container: ContainerDep) -> list[Any]:
    return await _list(container, Office)


@router.put("/offices/{code}", response_model=OfficeOut, response_model_by_alias=True, dependencies=[WRITE])
async def put_office(container: ContainerDep, body: OfficeIn, code: str = OfficeCode) -> Any:
    return await _put(container, Office, code, body)
