"""The catalogue: directorates, categories (→ directorate, service time) and other institutions.

Lives in PostgreSQL and is read on every routing, so a change applies to new requests at once,
without redeploying diagrams. Loaded from services/data/katalog.json when empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services import request_attributes
from services.db import UnitOfWorkFactory
from services.models import Category, Directorate, Institution, Office

SEED = Path(__file__).resolve().parent / "data" / "katalog.json"


class CatalogueError(ValueError):
    pass


def load_seed_if_empty(uow_factory: UnitOfWorkFactory, path: Path = SEED) -> bool:
    """Load the sample catalogue on first start; never overwrite what operators changed (a later
    start adds only the categories a newer release ships)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    _load_offices_if_empty(uow_factory, data)
    with uow_factory() as uow:
        installed = bool(uow.session.scalar(select(func.count()).select_from(Directorate)))
    if installed:
        add_new_seed_categories(uow_factory, path)
        return False
    with uow_factory() as uow:
        for d in data["directorates"]:
            uow.session.add(
                Directorate(
                    code=d["code"],
                    name=d["name"],
                    email=d["email"],
                    director_email=d["directorEmail"],
                    staff_group=d["staffGroup"],
                    director_group=d["directorGroup"],
                    head_email=d["headEmail"],
                )
            )
        uow.session.flush()
        for c in data["categories"]:
            uow.session.add(_category(c))
        for i in data["institutions"]:
            uow.session.add(Institution(code=i["code"], name=i["name"], email=i["email"]))
        uow.commit()
        return True


def _category(c: dict[str, Any]) -> Category:
    return Category(
        code=c["code"],
        name=c["name"],
        directorate_code=c["directorate"],
        service_days=c["serviceDays"],
        default_priority=c.get("priority", "normal"),
        high_service_days=c.get("highServiceDays"),
        urgent_service_hours=c.get("urgentServiceHours", 24),
        active=c.get("active", True),
        description=c.get("description"),
        attributes=request_attributes.check_definitions(
            [request_attributes.Definition.model_validate(a) for a in c.get("attributes", [])]
        ),
    )


def add_new_seed_categories(uow_factory: UnitOfWorkFactory, path: Path = SEED) -> int:
    """Categories a newer release ships (e.g. the health-and-safety ones) join an installed
    catalogue; codes that exist are never touched. Returns how many were added."""
    data = json.loads(path.read_text(encoding="utf-8"))
    with uow_factory() as uow:
        known = set(uow.session.scalars(select(Category.code)))
        directorates = set(uow.session.scalars(select(Directorate.code)))
        new = [c for c in data["categories"] if c["code"] not in known and c["directorate"] in directorates]
        for c in new:
            uow.session.add(_category(c))
        uow.commit()
        return len(new)


def _load_offices_if_empty(uow_factory: UnitOfWorkFactory, data: dict[str, Any]) -> None:
    with uow_factory() as uow:
        if uow.session.scalar(select(func.count()).select_from(Office)):
            return
        for o in data.get("offices", []):
            uow.session.add(
                Office(code=o["code"], name=o["name"], email=o["email"], staff_group=o["staffGroup"])
            )
        uow.commit()


def active_category(session: Session, code: str | None) -> tuple[Category, Directorate] | None:
    if not code:
        return None
    row = session.execute(
        select(Category, Directorate)
        .join(Directorate, Directorate.code == Category.directorate_code)
        .where(Category.code == code.strip().upper(), Category.active.is_(True))
    ).first()
    return (row[0], row[1]) if row else None


def attribute_definitions(session: Session, code: str | None) -> list[request_attributes.Definition]:
    """The extra questions of an active category (none for an unknown or missing one, which an
    operator routes by hand)."""
    found = active_category(session, code)
    return request_attributes.definitions(found[0].attributes) if found else []


def check_answers(
    uow_factory: UnitOfWorkFactory, code: str | None, answers: dict[str, str | list[str]]
) -> dict[str, Any] | None:
    """The answers to the category's extra questions as the request stores them; raises
    request_attributes.AnswerInvalid. One check for every channel."""
    with uow_factory() as uow:
        items = attribute_definitions(uow.session, code)
    return request_attributes.check_answers(items, answers)


def list_all(uow_factory: UnitOfWorkFactory, model: type[Any]) -> list[Any]:
    with uow_factory() as uow:
        rows = list(uow.session.scalars(select(model).order_by(model.code)))
        uow.session.expunge_all()
        return rows


def upsert(uow_factory: UnitOfWorkFactory, model: type[Any], code: str, values: dict[str, Any]) -> Any:
    with uow_factory() as uow:
        if model is Category and not uow.session.get(Directorate, values["directorate_code"]):
            raise CatalogueError(f"Unknown directorate {values['directorate_code']}")
        row = uow.session.get(model, code)
        if row is None:
            row = model(code=code, **values)
            uow.session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        uow.commit()
        uow.session.refresh(row)
        uow.session.expunge(row)
        return row
