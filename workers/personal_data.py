"""Handlers of the `kisisel-veri-anonimlestirme` diagram. Thin: read the task headers the process
owner sets in Modeler, call services.anonymisation."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pyzeebe import Job, ZeebeTaskRouter

from services import anonymisation
from services.bootstrap import Container
from workers import task_types
from workers.failures import handle_failure

# A first run may find years of requests: the job is held this long, and no new batch starts
# after RUN_SECONDS (the rest waits for the next night). A run that outlives the job anyway
# overlaps safely with its redelivery: each skips the requests the other holds.
JOB_TIMEOUT_MS = 15 * 60 * 1000
RUN_SECONDS = 10 * 60


class RetentionHeaders(BaseModel):
    """Task headers of *Süresi dolan kişisel verileri anonimleştir* (see its element template)."""

    retention_period: timedelta = Field(alias="retentionPeriod")
    batch_size: int = Field(alias="batchSize", ge=1, le=9999)

    @field_validator("retention_period", mode="before")
    @classmethod
    def _iso_8601(cls, value: object) -> timedelta:
        return anonymisation.parse_period(str(value))


def router(container: Container) -> ZeebeTaskRouter:
    tasks = ZeebeTaskRouter(exception_handler=handle_failure)

    @tasks.task(task_types.PERSONAL_DATA_ANONYMISE, timeout_ms=JOB_TIMEOUT_MS)  # type: ignore[arg-type]
    async def anonymise(job: Job) -> dict[str, Any]:
        headers = RetentionHeaders.model_validate(job.custom_headers)
        count = await asyncio.to_thread(
            anonymisation.anonymise_closed_requests,
            container.uow,
            older_than=headers.retention_period,
            now=datetime.now(UTC),
            batch_size=headers.batch_size,
            max_seconds=RUN_SECONDS,
        )
        return {"anonymisedCount": count}

    return tasks
