"""Handlers of the `kisisel-veri-anonimlestirme` diagram. Thin: read the extension properties the
process owner sets in Modeler, call services.anonymisation."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator

from services import anonymisation
from services.bootstrap import Container
from workers import task_types
from workers.runtime import ExternalTask, Router

# A first run may find years of requests: the task is locked this long (and the lock extended
# while the run goes on), and no new batch starts after RUN_SECONDS (the rest waits for the next
# night). A run whose lock expires anyway (its worker died) overlaps safely with the redelivery:
# each skips the requests the other holds.
LOCK_MS = 15 * 60 * 1000
RUN_SECONDS = 10 * 60


class NoVariables(BaseModel):
    """The step reads no process variables: only its extension properties."""


class RetentionHeaders(BaseModel):
    """Extension properties of *Süresi dolan kişisel verileri anonimleştir* (see its element template)."""

    retention_period: timedelta = Field(alias="retentionPeriod")
    batch_size: int = Field(alias="batchSize", ge=1, le=9999)

    @field_validator("retention_period", mode="before")
    @classmethod
    def _iso_8601(cls, value: object) -> timedelta:
        return anonymisation.parse_period(str(value))


def router(container: Container) -> Router:
    tasks = Router()

    @tasks.task(task_types.PERSONAL_DATA_ANONYMISE, NoVariables, lock_ms=LOCK_MS)
    async def anonymise(task: ExternalTask, v: NoVariables) -> dict[str, Any]:
        configured = RetentionHeaders.model_validate(dict(task.properties))
        count = await asyncio.to_thread(
            anonymisation.anonymise_closed_requests,
            container.uow,
            older_than=configured.retention_period,
            now=datetime.now(UTC),
            batch_size=configured.batch_size,
            max_seconds=RUN_SECONDS,
        )
        return {"anonymisedCount": count}

    return tasks
