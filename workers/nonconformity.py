"""Handlers of the `uygun-olmayan-hizmet` diagram (a placeholder until that process is built)."""

import asyncio
from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from services import citizen_requests as requests
from services.bootstrap import Container
from workers import task_types
from workers.citizen_request import RequestRef
from workers.failures import handle_failure


def router(container: Container) -> ZeebeTaskRouter:
    tasks = ZeebeTaskRouter(exception_handler=handle_failure)
    uow = container.uow

    @tasks.task(task_types.NONCONFORMITY_RECORD_CALL)  # type: ignore[arg-type]
    async def nonconformity(job: Job, requestId: object = None) -> dict[str, Any]:
        ref = RequestRef.model_validate({"requestId": requestId})
        await asyncio.to_thread(
            requests.hand_over_to_nonconformity,
            uow,
            request_id=ref.request_id,
            element_instance_key=job.element_instance_key,
        )
        return {}

    return tasks
