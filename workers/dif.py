"""Handlers of the `dif` diagram. Thin: validate variables, call services.difs."""

import asyncio
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import BaseModel, Field
from pyzeebe import Job, ZeebeTaskRouter

from services import difs
from services.bootstrap import Container
from services.models import DifAction
from services.tasklist import who_completed
from workers import task_types
from workers.failures import handle_failure

# Which form fields hold the decision, the comment and the chosen actions of each approval step.
APPROVAL_FIELDS = {
    "mudur-onayi": ("approvalDecision", "approvalComment", "sendBackActions"),
    "eys-dogrulama": ("verificationDecision", "verificationComment", None),
}


class DifRef(BaseModel):
    dif_id: uuid.UUID = Field(alias="difId")


class ActionRef(BaseModel):
    action_id: uuid.UUID = Field(alias="actionId")


def _branches(actions: list[DifAction]) -> dict[str, Any]:
    return {"openActions": [difs.action_variables(a) for a in actions]}


def router(container: Container) -> ZeebeTaskRouter:
    tasks = ZeebeTaskRouter(exception_handler=handle_failure)
    uow, mailer, settings = container.uow, container.mailer, container.settings

    async def completer(job: Job) -> str:
        actor = await who_completed(
            settings, process_instance_key=job.process_instance_key, element_id=job.custom_headers["userTask"]
        )
        return actor or "bilinmiyor"

    @tasks.task(task_types.DIF_START)  # type: ignore[arg-type]
    async def start(job: Job, difId: object = None) -> dict[str, Any]:
        ref = DifRef.model_validate({"difId": difId})
        started = await difs.opened(
            uow,
            mailer,
            dif_id=ref.dif_id,
            process_instance_key=job.process_instance_key,
            tasklist_url=settings.tasklist_url,
        )
        return {
            "difNumber": started.number,
            "directorGroup": started.director_group,
            "staffGroup": started.staff_group,
            "findingDescription": started.finding,
        }

    @tasks.task(task_types.DIF_RECORD_PLAN)  # type: ignore[arg-type]
    async def plan(
        job: Job, difId: object = None, rootCause: object = None, actions: object = None
    ) -> dict[str, Any]:
        ref = DifRef.model_validate({"difId": difId})
        planned = await asyncio.to_thread(
            difs.record_plan,
            uow,
            dif_id=ref.dif_id,
            root_cause=rootCause,
            actions=actions,
            actor=await completer(job),
        )
        return {
            **_branches(planned),
            "actionOptions": [
                {"label": f"{a.position}. {a.description[:80]}", "value": str(a.id)} for a in planned
            ],
            "actionSummary": "\n".join(
                f"{a.position}. {a.description} — {a.responsible}, son tarih "
                f"{difs.action_variables(a)['dueDateText']}"
                for a in planned
            ),
            "inputError": None,
        }

    @tasks.task(task_types.DIF_CLOSE_ACTION)  # type: ignore[arg-type]
    async def close_action(action: object = None, completionNote: object = None) -> dict[str, Any]:
        ref = ActionRef.model_validate(action if isinstance(action, dict) else {})
        data = action if isinstance(action, dict) else {}
        await asyncio.to_thread(
            difs.close_action,
            uow,
            action_id=ref.action_id,
            note=completionNote,
            # The task is assigned to the action's owner by the diagram.
            actor=str(data.get("responsible") or "bilinmiyor"),
        )
        return {"inputError": None}

    @tasks.task(task_types.DIF_ACTION_OVERDUE)  # type: ignore[arg-type]
    async def action_overdue(
        job: Job, action: object = None, ownerReminders: object = None
    ) -> dict[str, Any]:
        ref = ActionRef.model_validate(action if isinstance(action, dict) else {})
        await difs.action_overdue(
            uow,
            mailer,
            action_id=ref.action_id,
            owner_reminders=ownerReminders if isinstance(ownerReminders, int) else 1,
            element_instance_key=job.element_instance_key,
            tasklist_url=settings.tasklist_url,
        )
        return {}

    @tasks.task(task_types.DIF_RECORD_APPROVAL)  # type: ignore[arg-type]
    async def approval(job: Job) -> dict[str, Any]:
        ref = DifRef.model_validate(job.variables)
        step = job.custom_headers.get("step", "")
        decision_field, comment_field, send_back_field = APPROVAL_FIELDS.get(step, ("", "", None))
        sent_back = await asyncio.to_thread(
            difs.record_approval,
            uow,
            dif_id=ref.dif_id,
            step=step,
            decision=job.variables.get(decision_field),
            comment=job.variables.get(comment_field),
            send_back=job.variables.get(send_back_field) if send_back_field else None,
            actor=await completer(job),
            element_instance_key=job.element_instance_key,
        )
        return {**(_branches(sent_back) if sent_back else {}), "inputError": None}

    @tasks.task(task_types.DIF_ESCALATE_APPROVAL)  # type: ignore[arg-type]
    async def escalate(
        job: Job, difId: object = None, approvalEscalationLevels: object = None
    ) -> dict[str, Any]:
        ref = DifRef.model_validate({"difId": difId})
        chain = (
            [str(level) for level in approvalEscalationLevels]
            if isinstance(approvalEscalationLevels, list)
            else []
        )
        level = await difs.escalate_approval(
            uow,
            mailer,
            dif_id=ref.dif_id,
            chain=chain,
            element_instance_key=job.element_instance_key,
            tasklist_url=settings.tasklist_url,
        )
        return {"lastEscalationLevel": level}

    @tasks.task(task_types.DIF_ARCHIVE)  # type: ignore[arg-type]
    async def archive(difId: object = None, retentionYears: object = None) -> dict[str, Any]:
        from services import quality_reports  # fpdf costs ~60 MB: loaded by the first archive

        ref = DifRef.model_validate({"difId": difId})
        years = retentionYears if isinstance(retentionYears, int) and retentionYears > 0 else 20
        until = await asyncio.to_thread(
            difs.archive,
            uow,
            dif_id=ref.dif_id,
            retention_years=years,
            render_pdf=partial(
                quality_reports.dif_pdf, font_path=settings.report_font_path, now=datetime.now(UTC)
            ),
        )
        return {"retentionUntil": until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    return tasks
