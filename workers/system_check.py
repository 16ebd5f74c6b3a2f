"""Handlers of the `sistem-kontrol` diagram. Thin: validate variables, call the service layer."""

import asyncio
import uuid

from pydantic import BaseModel, Field
from pyzeebe import Job, ZeebeTaskRouter

from services.bootstrap import Container
from services.system_checks import complete_check, send_test_notification
from workers import task_types
from workers.failures import handle_failure


class NotifyVariables(BaseModel):
    system_check_id: uuid.UUID = Field(alias="systemCheckId")


class CompleteVariables(NotifyVariables):
    confirmed_by: str = Field(alias="confirmedBy", min_length=1, max_length=100)
    note: str | None = Field(None, max_length=1000)


def router(container: Container) -> ZeebeTaskRouter:
    tasks = ZeebeTaskRouter(exception_handler=handle_failure)

    # Handler parameters are the process variables pyzeebe fetches (camelCase, as in the diagram);
    # pydantic turns a missing or malformed one into a clear job failure.
    # pyzeebe types its decorator with a ParamSpec that mypy cannot match: hence the ignores.
    @tasks.task(task_types.SYSTEM_CHECK_NOTIFY, timeout_ms=60_000)  # type: ignore[arg-type]
    async def notify(job: Job, systemCheckId: object = None) -> dict[str, str]:
        data = NotifyVariables.model_validate({"systemCheckId": systemCheckId})
        notified_at = await send_test_notification(
            container.uow,
            container.mailer,
            check_id=data.system_check_id,
            process_instance_key=job.process_instance_key,
            element_instance_key=job.element_instance_key,
            recipient=container.settings.system_check_recipient,
            tasklist_url=container.settings.tasklist_url,
        )
        return {"notifiedAt": notified_at.isoformat()}

    @tasks.task(task_types.SYSTEM_CHECK_COMPLETE)  # type: ignore[arg-type]
    async def complete(
        systemCheckId: object = None,
        confirmedBy: object = None,
        note: object = None,
    ) -> dict[str, str]:
        data = CompleteVariables.model_validate(
            {"systemCheckId": systemCheckId, "confirmedBy": confirmedBy, "note": note}
        )
        completed_at = await asyncio.to_thread(
            complete_check,
            container.uow,
            check_id=data.system_check_id,
            confirmed_by=data.confirmed_by,
            note=data.note,
        )
        return {"completedAt": completed_at.isoformat()}

    return tasks
