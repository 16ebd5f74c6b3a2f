"""Handlers of the `birim-istek` diagram. Thin: validate variables, call services.citizen_requests.

Each handler's model names the process variables it reads (camelCase, as in the diagram): the
worker fetches just those, and a missing or malformed one becomes an incident at once.
"""

import asyncio
import uuid
from datetime import UTC, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from services import citizen_requests as requests
from services import objections, satisfaction
from services.bootstrap import Container
from services.process_engine import ProcessEngine
from workers import task_types
from workers.runtime import BpmnError, ExternalTask, Router

CATEGORY_NOT_FOUND = "KATEGORI_BULUNAMADI"


class RequestRef(BaseModel):
    request_id: uuid.UUID = Field(alias="requestId")


class RouteVariables(RequestRef):
    # Set by the channel when the citizen chose a category, or by the operator's manual routing.
    category_code: str | None = Field(None, alias="categoryCode")


class StepVariables(RequestRef):
    """`requestId` and the variables the step's `fields` property names (known only at run time,
    so every variable is fetched)."""

    model_config = ConfigDict(extra="allow")


class Outcome(RequestRef):
    outcome: Literal["yapildi", "yapilmayacak", "yanlis-mudurluk", "bilgi-gerekli"]


class Answer(Outcome):
    # From the diagram's settings event (ISO-8601 duration, e.g. P15D).
    objection_period: timedelta = Field(alias="objectionPeriod")


class ObjectionDecision(BaseModel):
    objection_id: uuid.UUID = Field(alias="objectionId")
    decision: Literal["yeniden-ac", "kapanisi-onayla"] = Field(alias="objectionDecision")
    justification: str = Field(alias="objectionJustification", min_length=1, max_length=2000)


class Merge(RequestRef):
    duplicate_of: str = Field(alias="duplicateOf", min_length=1, max_length=40)


DURATION = TypeAdapter(timedelta)
# A message in transit when the objection period ends still finds the instance waiting.
OBJECTION_GRACE = timedelta(minutes=10)


class Question(RequestRef):
    question: str = Field(min_length=1, max_length=1000)


async def completed_by(engine: ProcessEngine, task: ExternalTask) -> str:
    """Who completed the human step the task's `userTask` property names (the engine's history)."""
    user_task = task.properties.get("userTask")
    if not user_task:
        return "bilinmiyor"
    completer = await asyncio.to_thread(engine.who_completed, task.process_instance_id, user_task)
    return completer or "bilinmiyor"


def router(container: Container) -> Router:
    tasks = Router()
    uow, mailer, sms = container.uow, container.mailer, container.sms
    engine = container.process_engine
    tasklist_url = container.settings.tasklist_url

    @tasks.task(task_types.ROUTE_REQUEST, RouteVariables)
    async def route(task: ExternalTask, v: RouteVariables) -> dict[str, Any]:
        try:
            routing = await asyncio.to_thread(
                requests.route,
                uow,
                request_id=v.request_id,
                category_code=v.category_code,
                process_instance_id=task.process_instance_id,
                activity_instance_id=task.activity_instance_id,
            )
        except requests.CategoryNotFound:
            raise BpmnError(CATEGORY_NOT_FOUND, "Kategori bulunamadı: operatör yönlendirmeli") from None
        return await asyncio.to_thread(
            requests.route_variables,
            uow,
            routing,
            v.request_id,
            duplicate_radius_m=float(task.properties.get("duplicateRadiusMeters", "50")),
            duplicate_period=DURATION.validate_python(task.properties.get("duplicatePeriod", "P7D")),
        )

    @tasks.task(task_types.MERGE_DUPLICATE, Merge)
    async def merge(task: ExternalTask, v: Merge) -> dict[str, Any]:
        actor = await completed_by(engine, task)
        await requests.merge_duplicate(
            uow,
            mailer,
            sms,
            request_id=v.request_id,
            into_tracking_code=v.duplicate_of,
            actor=actor,
            activity_instance_id=task.activity_instance_id,
        )
        return {}

    @tasks.task(task_types.INFORM_CITIZEN, RequestRef)
    async def inform(task: ExternalTask, v: RequestRef) -> dict[str, Any]:
        return await requests.inform_citizen(
            uow,
            mailer,
            sms,
            request_id=v.request_id,
            event=task.properties.get("event") or "",
            always=task.properties.get("always", "false").strip().lower() == "true",
            activity_instance_id=task.activity_instance_id,
        )

    @tasks.task(task_types.NOTIFY_URGENT, RequestRef)
    async def urgent(task: ExternalTask, v: RequestRef) -> dict[str, Any]:
        await requests.notify_director_urgent(
            uow,
            mailer,
            request_id=v.request_id,
            activity_instance_id=task.activity_instance_id,
            tasklist_url=tasklist_url,
        )
        return {}

    @tasks.task(task_types.APPLY_PRIORITY, RequestRef)
    async def apply_priority(task: ExternalTask, v: RequestRef) -> dict[str, Any]:
        # The API stored the new priority and due date; the recreated task carries them.
        return await asyncio.to_thread(requests.current_task_variables, uow, v.request_id)

    @tasks.task(task_types.INVITE_RATING, RequestRef)
    async def invite(task: ExternalTask, v: RequestRef) -> dict[str, Any]:
        await satisfaction.invite(uow, mailer, sms, request_id=v.request_id)
        return {}

    @tasks.task(task_types.DECIDE_OBJECTION, ObjectionDecision)
    async def decide_objection(task: ExternalTask, v: ObjectionDecision) -> dict[str, Any]:
        actor = await completed_by(engine, task)
        return await asyncio.to_thread(
            objections.decide,
            uow,
            objection_id=v.objection_id,
            decision=v.decision,
            justification=v.justification,
            actor=actor,
            activity_instance_id=task.activity_instance_id,
        )

    @tasks.task(task_types.NOTIFY_DIRECTORATE, RequestRef)
    async def notify(task: ExternalTask, v: RequestRef) -> dict[str, Any]:
        await requests.notify_directorate(
            uow,
            mailer,
            request_id=v.request_id,
            activity_instance_id=task.activity_instance_id,
            tasklist_url=tasklist_url,
        )
        return {}

    @tasks.task(task_types.RECORD_STEP, StepVariables)
    async def record(task: ExternalTask, v: StepVariables) -> dict[str, Any]:
        event = task.properties.get("event") or task.activity_id
        fields = [f.strip() for f in (task.properties.get("fields") or "").split(",") if f.strip()]
        variables = {"requestId": str(v.request_id), **(v.model_extra or {})}
        details = {name: variables[name] for name in fields if variables.get(name) is not None}
        # Property `userTask`: the human step whose completer is the actor; else the system.
        actor = await completed_by(engine, task) if task.properties.get("userTask") else "sistem"
        await asyncio.to_thread(
            requests.record_step,
            uow,
            request_id=v.request_id,
            event=event,
            actor=actor,
            details=details,
            activity_instance_id=task.activity_instance_id,
        )
        return {}

    @tasks.task(task_types.ASK_CITIZEN, Question)
    async def ask(task: ExternalTask, v: Question) -> dict[str, Any]:
        await requests.ask_citizen(
            uow,
            mailer,
            sms,
            request_id=v.request_id,
            question=v.question,
            activity_instance_id=task.activity_instance_id,
        )
        return {"citizenReplied": False, "replyId": None}

    @tasks.task(task_types.ESCALATE_OVERDUE, RequestRef)
    async def escalate(task: ExternalTask, v: RequestRef) -> dict[str, Any]:
        count = await requests.escalate_overdue(
            uow,
            mailer,
            request_id=v.request_id,
            activity_instance_id=task.activity_instance_id,
            tasklist_url=tasklist_url,
        )
        return {"overdueNotices": count}

    @tasks.task(task_types.ANSWER_CITIZEN, Answer)
    async def answer(task: ExternalTask, v: Answer) -> dict[str, Any]:
        result, deadline = await requests.answer_citizen(
            uow,
            mailer,
            sms,
            request_id=v.request_id,
            outcome=v.outcome,
            objection_period=v.objection_period,
            activity_instance_id=task.activity_instance_id,
        )
        return {
            "answer": result,
            "objectionTimerAt": (deadline + OBJECTION_GRACE).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    return tasks


def satisfaction_router(container: Container) -> Router:
    """Handlers of the `memnuniyet` diagram."""
    tasks = Router()

    @tasks.task(task_types.LOW_RATING_NOTIFY, RequestRef)
    async def low_rating(task: ExternalTask, v: RequestRef) -> dict[str, Any]:
        await satisfaction.tell_public_relations(
            container.uow,
            container.mailer,
            request_id=v.request_id,
            activity_instance_id=task.activity_instance_id,
        )
        return {}

    return tasks
