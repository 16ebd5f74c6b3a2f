"""What nonconformities, findings and DİFs share: numbering, history and retention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.models import QualityEvent


class RecordNotFound(LookupError):
    pass


class MisconfiguredProcess(RuntimeError):
    """A setting of the diagram (or the catalogue it names) is wrong: no retry can help, a person
    must fix the setting; the incident in Cockpit says which, in plain words."""


class InvalidInput(ValueError):
    """A person's input that the form should have refused; the task goes back to them with this text."""


class UnderRetention(Exception):
    """A quality record that may not be deleted yet (clause 7: kept 20 years after closure)."""

    def __init__(self, kind: str, until: datetime | None) -> None:
        self.kind, self.until = kind, until
        when = f"{until:%d.%m.%Y} tarihine kadar" if until else "kapatılıp saklama süresi dolana kadar"
        super().__init__(f"{kind} kaydı saklama süresi içinde: {when} silinemez")


def next_number(session: Session, prefix: str) -> str:
    """Human-readable record numbers, e.g. DIF-2026-000042 (one sequence for all kinds)."""
    value = session.scalar(select(func.nextval(text("'record_numbers'"))))
    return f"{prefix}-{datetime.now(UTC):%Y}-{value:06d}"


def add_event(
    session: Session,
    event: str,
    *,
    nonconformity_id: uuid.UUID | None = None,
    dif_id: uuid.UUID | None = None,
    actor: str = "sistem",
    details: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> bool:
    """Append a history entry; False when one with this idempotency key exists already."""
    if idempotency_key is not None and session.scalar(
        select(QualityEvent.id).where(QualityEvent.idempotency_key == idempotency_key)
    ):
        return False
    session.add(
        QualityEvent(
            nonconformity_id=nonconformity_id,
            dif_id=dif_id,
            event=event,
            actor=actor,
            details=details or {},
            idempotency_key=idempotency_key,
        )
    )
    return True


def retention_until(closed_at: datetime, years: int) -> datetime:
    """closed_at + years, 29 February becoming 28 February in a non-leap year."""
    try:
        return closed_at.replace(year=closed_at.year + years)
    except ValueError:
        return closed_at.replace(year=closed_at.year + years, day=28)


def ensure_deletable(kind: str, retained: datetime | None) -> None:
    if retained is None or retained > datetime.now(UTC):
        raise UnderRetention(kind, retained)


def history(
    session: Session, *, nonconformity_id: uuid.UUID | None = None, dif_id: uuid.UUID | None = None
) -> list[QualityEvent]:
    query = select(QualityEvent).order_by(QualityEvent.at, QualityEvent.id)
    if nonconformity_id is not None:
        query = query.where(QualityEvent.nonconformity_id == nonconformity_id)
    if dif_id is not None:
        query = query.where(QualityEvent.dif_id == dif_id)
    return list(session.scalars(query))
