"""Handlers of the `uygun-olmayan-hizmet` diagram. Thin: validate variables, call services.nonconformities."""

import asyncio
import uuid
from datetime import UTC
from typing import Any

from pydantic import BaseModel, Field
from pyzeebe import Job, ZeebeTaskRouter

from services import nonconformities
from services.bootstrap import Container
from services.tasklist import who_completed
from workers import task_types
from workers.failures import handle_failure


class NonconformityRef(BaseModel):
    nonconformity_id: uuid.UUID = Field(alias="nonconformityId")


class Origin(BaseModel):
    nonconformity_id: uuid.UUID | None = Field(None, alias="nonconformityId")
    request_id: uuid.UUID | None = Field(None, alias="requestId")


def router(container: Container) -> ZeebeTaskRouter:
    tasks = ZeebeTaskRouter(exception_handler=handle_failure)
    uow, mailer, sms, settings = container.uow, container.mailer, container.sms, container.settings

    @tasks.task(task_types.NONCONFORMITY_RECORD)  # type: ignore[arg-type]
    async def record(job: Job, nonconformityId: object = None, requestId: object = None) -> dict[str, Any]:
        origin = Origin.model_validate({"nonconformityId": nonconformityId, "requestId": requestId})
        recorded = await asyncio.to_thread(
            nonconformities.record,
            uow,
            nonconformity_id=origin.nonconformity_id,
            request_id=origin.request_id,
            process_instance_key=job.process_instance_key,
        )
        options = await asyncio.to_thread(nonconformities.institution_options, uow)
        return {
            "nonconformityId": str(recorded.nonconformity_id),
            "nonconformityNumber": recorded.number,
            "nonconformityDescription": recorded.description,
            "directorateCode": recorded.directorate_code,
            "requestId": str(recorded.request_id) if recorded.request_id else None,
            "hasRequest": recorded.request_id is not None,
            "institutions": options,
        }

    @tasks.task(task_types.NONCONFORMITY_DECISION)  # type: ignore[arg-type]
    async def decide(
        job: Job,
        nonconformityId: object = None,
        decision: object = None,
        institutionCode: object = None,
        justification: object = None,
    ) -> dict[str, Any]:
        ref = NonconformityRef.model_validate({"nonconformityId": nonconformityId})
        actor = await who_completed(
            settings, process_instance_key=job.process_instance_key, element_id=job.custom_headers["userTask"]
        )
        chosen = await asyncio.to_thread(
            nonconformities.record_decision,
            uow,
            nonconformity_id=ref.nonconformity_id,
            decision=decision if isinstance(decision, str) else None,
            institution_code=institutionCode if isinstance(institutionCode, str) else None,
            justification=justification if isinstance(justification, str) else None,
            actor=actor or "bilinmiyor",
            element_instance_key=job.element_instance_key,
        )
        return {"decision": chosen, "inputError": None}

    @tasks.task(task_types.NONCONFORMITY_REOPEN)  # type: ignore[arg-type]
    async def reopen(
        job: Job, nonconformityId: object = None, calledFromRequest: object = None
    ) -> dict[str, Any]:
        ref = NonconformityRef.model_validate({"nonconformityId": nonconformityId})
        due_at = await nonconformities.reopen_request(
            uow,
            mailer,
            nonconformity_id=ref.nonconformity_id,
            resumes_in_place=calledFromRequest is True,
            element_instance_key=job.element_instance_key,
            tasklist_url=settings.tasklist_url,
        )
        return {"dueDate": due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    @tasks.task(task_types.NONCONFORMITY_REDIRECT)  # type: ignore[arg-type]
    async def redirect(job: Job, nonconformityId: object = None) -> dict[str, Any]:
        ref = NonconformityRef.model_validate({"nonconformityId": nonconformityId})
        await nonconformities.redirect_request(
            uow,
            mailer,
            sms,
            nonconformity_id=ref.nonconformity_id,
            element_instance_key=job.element_instance_key,
        )
        return {}

    @tasks.task(task_types.NONCONFORMITY_OPEN_FINDING)  # type: ignore[arg-type]
    async def open_finding(nonconformityId: object = None) -> dict[str, Any]:
        ref = NonconformityRef.model_validate({"nonconformityId": nonconformityId})
        dif = await asyncio.to_thread(
            nonconformities.open_finding, uow, nonconformity_id=ref.nonconformity_id
        )
        return {"difId": str(dif.id), "difNumber": dif.number}

    return tasks
