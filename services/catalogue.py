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

from services.db import UnitOfWorkFactory
from services.models import Category, Directorate, Institution, Office

SEED = Path(__file__).resolve().parent / "data" / "katalog.json"


class CatalogueError(ValueError):
    pass


def load_seed_if_empty(uow_factory: UnitOfWorkFactory, path: Path = SEED) -> bool:
    """Load the sample catalogue on first start; never overwrite what operators changed."""
    data = json.loads(path.read_text(encoding="utf-8"))
    _load_offices_if_empty(uow_factory, data)
    with uow_factory() as uow:
        if uow.session.scalar(select(func.count()).select_from(Directorate)):
            return False
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
            uow.session.add(
                Category(
                    code=c["code"],
                    name=c["name"],
                    directorate_code=c["directorate"],
                    service_days=c["serviceDays"],
                    active=c.get("active", True),
                )
            )
        for i in data["institutions"]:
            uow.session.add(Institution(code=i["code"], name=i["name"], email=i["email"]))
        uow.commit()
        return True


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
