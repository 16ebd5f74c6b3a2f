"""Handlers of the `uygun-olmayan-hizmet` diagram. Thin: validate variables, call services.nonconformities.

Each handler's model names the process variables it reads (camelCase, as in the diagram): the
worker fetches just those, and a missing or malformed one becomes an incident at once.
"""

import asyncio
import uuid
from datetime import UTC
from typing import Any

from pydantic import BaseModel, Field, model_validator

from services import nonconformities
from services.bootstrap import Container
from workers import task_types
from workers.runtime import ExternalTask, Router


class NonconformityRef(BaseModel):
    nonconformity_id: uuid.UUID = Field(alias="nonconformityId")


class Origin(BaseModel):
    """Reported through the API (`nonconformityId`) or found at a request's closure check (`requestId`)."""

    nonconformity_id: uuid.UUID | None = Field(None, alias="nonconformityId")
    request_id: uuid.UUID | None = Field(None, alias="requestId")

    @model_validator(mode="after")
    def _one_of_them(self) -> "Origin":
        # Neither is a broken start, not a person's mistake: an incident (Camunda 7 would just end
        # the execution, logging it, on a BPMN error no boundary catches).
        if self.nonconformity_id is None and self.request_id is None:
            raise ValueError("requestId or nonconformityId is required")
        return self


class DecisionVariables(NonconformityRef):
    """The form `uygunsuzluk-karari`; services.nonconformities sends an incomplete one back to the person."""

    decision: str | None = None
    institution_code: str | None = Field(None, alias="institutionCode")
    justification: str | None = None


class ReopenVariables(NonconformityRef):
    # True when the request's own process called this one and waits for it (call activity input).
    called_from_request: bool | None = Field(None, alias="calledFromRequest")


def router(container: Container) -> Router:
    tasks = Router()
    uow, mailer, sms, settings = container.uow, container.mailer, container.sms, container.settings
    engine = container.process_engine

    @tasks.task(task_types.NONCONFORMITY_RECORD, Origin)
    async def record(task: ExternalTask, v: Origin) -> dict[str, Any]:
        recorded = await asyncio.to_thread(
            nonconformities.record,
            uow,
            nonconformity_id=v.nonconformity_id,
            request_id=v.request_id,
            process_instance_id=task.process_instance_id,
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

    @tasks.task(task_types.NONCONFORMITY_DECISION, DecisionVariables)
    async def decide(task: ExternalTask, v: DecisionVariables) -> dict[str, Any]:
        # Property `userTask`: the human step whose completer (from the engine's history) is the actor.
        actor = await asyncio.to_thread(
            engine.who_completed, task.process_instance_id, task.properties["userTask"]
        )
        chosen = await asyncio.to_thread(
            nonconformities.record_decision,
            uow,
            nonconformity_id=v.nonconformity_id,
            decision=v.decision,
            institution_code=v.institution_code,
            justification=v.justification,
            actor=actor or "bilinmiyor",
            activity_instance_id=task.activity_instance_id,
        )
        return {"decision": chosen, "inputError": None}

    @tasks.task(task_types.NONCONFORMITY_REOPEN, ReopenVariables)
    async def reopen(task: ExternalTask, v: ReopenVariables) -> dict[str, Any]:
        due_at = await nonconformities.reopen_request(
            uow,
            mailer,
            nonconformity_id=v.nonconformity_id,
            resumes_in_place=v.called_from_request is True,
            activity_instance_id=task.activity_instance_id,
            tasklist_url=settings.tasklist_url,
        )
        return {"dueDate": due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    @tasks.task(task_types.NONCONFORMITY_REDIRECT, NonconformityRef)
    async def redirect(task: ExternalTask, v: NonconformityRef) -> dict[str, Any]:
        await nonconformities.redirect_request(
            uow,
            mailer,
            sms,
            nonconformity_id=v.nonconformity_id,
            activity_instance_id=task.activity_instance_id,
        )
        return {}

    @tasks.task(task_types.NONCONFORMITY_OPEN_FINDING, NonconformityRef)
    async def open_finding(task: ExternalTask, v: NonconformityRef) -> dict[str, Any]:
        dif = await asyncio.to_thread(nonconformities.open_finding, uow, nonconformity_id=v.nonconformity_id)
        return {"difId": str(dif.id), "difNumber": dif.number}

    return tasks
