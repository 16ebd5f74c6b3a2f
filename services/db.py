"""Database engine, sessions and the unit of work that owns every transaction."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, MetaData, Select, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker

T = TypeVar("T")
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def make_engine(database_url: str) -> Engine:
    # hide_parameters: errors (and so logs and task failures) show the SQL, never the values,
    # which may be a citizen's personal data.
    return create_engine(
        database_url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


class UnitOfWork:
    """One transaction: commit() makes it durable; leaving the block without it rolls back."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session: Session = self._factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()


UnitOfWorkFactory = Callable[[], UnitOfWork]


def fetch_page(
    uow_factory: UnitOfWorkFactory,
    query: Select[T],
    *order: ColumnElement[Any] | InstrumentedAttribute[Any],
    page: int,
    size: int,
) -> tuple[list[T], int]:
    """One page of a filtered query (1-based) and the total it has, detached from the session."""
    with uow_factory() as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(uow.session.scalars(query.order_by(*order).offset((page - 1) * size).limit(size)))
        uow.session.expunge_all()
        return rows, total
