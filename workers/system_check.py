"""Handlers of the `sistem-kontrol` diagram. Thin: validate variables, call the service layer.

Each handler's model names the process variables it reads (camelCase, as in the diagram): the
worker fetches just those, and a missing or malformed one becomes an incident at once.
"""

import asyncio
import uuid

from pydantic import BaseModel, Field

from services.bootstrap import Container
from services.system_checks import complete_check, send_test_notification
from workers import task_types
from workers.runtime import ExternalTask, Router


class NotifyVariables(BaseModel):
    system_check_id: uuid.UUID = Field(alias="systemCheckId")


class CompleteVariables(NotifyVariables):
    confirmed_by: str = Field(alias="confirmedBy", min_length=1, max_length=100)
    note: str | None = Field(None, max_length=1000)


def router(container: Container) -> Router:
    tasks = Router()

    @tasks.task(task_types.SYSTEM_CHECK_NOTIFY, NotifyVariables)
    async def notify(task: ExternalTask, v: NotifyVariables) -> dict[str, str]:
        notified_at = await send_test_notification(
            container.uow,
            container.mailer,
            check_id=v.system_check_id,
            process_instance_id=task.process_instance_id,
            activity_instance_id=task.activity_instance_id,
            recipient=container.settings.system_check_recipient,
            tasklist_url=container.settings.tasklist_url,
        )
        return {"notifiedAt": notified_at.isoformat()}

    @tasks.task(task_types.SYSTEM_CHECK_COMPLETE, CompleteVariables)
    async def complete(task: ExternalTask, v: CompleteVariables) -> dict[str, str]:
        completed_at = await asyncio.to_thread(
            complete_check,
            container.uow,
            check_id=v.system_check_id,
            confirmed_by=v.confirmed_by,
            note=v.note,
        )
        return {"completedAt": completed_at.isoformat()}

    return tasks
