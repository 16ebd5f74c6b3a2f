"""Handlers of the `birim-istek` diagram. Thin: validate variables, call services.citizen_requests.

Parameters are process variables (camelCase, as in the diagram); pydantic turns a missing or
malformed one into a clear job failure. pyzeebe types its decorator with a ParamSpec that mypy
cannot match to these handlers, hence the `type: ignore[arg-type]` on each.
"""

import asyncio
import uuid
from datetime import UTC
from typing import Any, Literal

from pydantic import BaseModel, Field
from pyzeebe import Job, ZeebeTaskRouter
from pyzeebe.errors import BusinessError

from services import citizen_requests as requests
from services.bootstrap import Container
from services.tasklist import who_completed
from workers import task_types
from workers.failures import handle_failure

CATEGORY_NOT_FOUND = "KATEGORI_BULUNAMADI"


class RequestRef(BaseModel):
    request_id: uuid.UUID = Field(alias="requestId")


class Outcome(RequestRef):
    outcome: Literal["yapildi", "yapilmayacak", "yanlis-mudurluk", "bilgi-gerekli"]


class Question(RequestRef):
    question: str = Field(min_length=1, max_length=1000)


def router(container: Container) -> ZeebeTaskRouter:
    tasks = ZeebeTaskRouter(exception_handler=handle_failure)
    uow, mailer, sms = container.uow, container.mailer, container.sms
    tasklist_url = container.settings.tasklist_url

    @tasks.task(task_types.ROUTE_REQUEST)  # type: ignore[arg-type]
    async def route(job: Job, requestId: object = None, categoryCode: object = None) -> dict[str, Any]:
        ref = RequestRef.model_validate({"requestId": requestId})
        code = categoryCode if isinstance(categoryCode, str) else None
        try:
            routing = await asyncio.to_thread(
                requests.route,
                uow,
                request_id=ref.request_id,
                category_code=code,
                process_instance_key=job.process_instance_key,
                element_instance_key=job.element_instance_key,
            )
        except requests.CategoryNotFound:
            raise BusinessError(CATEGORY_NOT_FOUND, "Kategori bulunamadı: operatör yönlendirmeli") from None
        return {
            "categoryCode": routing.category_code,
            "directorateCode": routing.directorate_code,
            "staffGroup": routing.staff_group,
            "serviceDays": routing.service_days,
            # UTC with a Z: the timer expressions in the diagram read it as a date-time.
            "dueDate": routing.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    @tasks.task(task_types.NOTIFY_DIRECTORATE)  # type: ignore[arg-type]
    async def notify(job: Job, requestId: object = None) -> dict[str, Any]:
        ref = RequestRef.model_validate({"requestId": requestId})
        await requests.notify_directorate(
            uow,
            mailer,
            request_id=ref.request_id,
            element_instance_key=job.element_instance_key,
            tasklist_url=tasklist_url,
        )
        return {}

    @tasks.task(task_types.RECORD_STEP)  # type: ignore[arg-type]
    async def record(job: Job) -> dict[str, Any]:
        ref = RequestRef.model_validate(job.variables)
        event = job.custom_headers.get("event") or job.element_id
        fields = [f.strip() for f in (job.custom_headers.get("fields") or "").split(",") if f.strip()]
        details = {name: job.variables.get(name) for name in fields if job.variables.get(name) is not None}
        # Header `userTask`: the human step whose completer (from Tasklist) is the actor.
        actor = "sistem"
        if user_task := job.custom_headers.get("userTask"):
            completer = await who_completed(
                container.settings, process_instance_key=job.process_instance_key, element_id=user_task
            )
            actor = completer or "bilinmiyor"
        await asyncio.to_thread(
            requests.record_step,
            uow,
            request_id=ref.request_id,
            event=event,
            actor=actor,
            details=details,
            element_instance_key=job.element_instance_key,
        )
        return {}

    @tasks.task(task_types.ASK_CITIZEN)  # type: ignore[arg-type]
    async def ask(job: Job, requestId: object = None, question: object = None) -> dict[str, Any]:
        data = Question.model_validate({"requestId": requestId, "question": question})
        await requests.ask_citizen(
            uow,
            mailer,
            sms,
            request_id=data.request_id,
            question=data.question,
            element_instance_key=job.element_instance_key,
        )
        return {"citizenReplied": False, "replyId": None}

    @tasks.task(task_types.ESCALATE_OVERDUE)  # type: ignore[arg-type]
    async def escalate(job: Job, requestId: object = None) -> dict[str, Any]:
        ref = RequestRef.model_validate({"requestId": requestId})
        count = await requests.escalate_overdue(
            uow,
            mailer,
            request_id=ref.request_id,
            element_instance_key=job.element_instance_key,
            tasklist_url=tasklist_url,
        )
        return {"overdueNotices": count}

    @tasks.task(task_types.ANSWER_CITIZEN)  # type: ignore[arg-type]
    async def answer(job: Job, requestId: object = None, outcome: object = None) -> dict[str, Any]:
        data = Outcome.model_validate({"requestId": requestId, "outcome": outcome})
        result = await requests.answer_citizen(
            uow,
            mailer,
            sms,
            request_id=data.request_id,
            outcome=data.outcome,
            element_instance_key=job.element_instance_key,
        )
        return {"answer": result}

    return tasks
