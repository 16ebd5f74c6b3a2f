"""Handlers of the `dif` diagram. Thin: validate variables, call services.difs.

Each handler's model names the process variables it reads (camelCase, as in the diagram): the
worker fetches just those, and a missing or malformed one becomes an incident at once. What a
person typed into a form is checked by services.difs instead, so that a mistake goes back to them
(GECERSIZ_GIRDI) rather than to an incident.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import BaseModel, Field, JsonValue

from services import difs
from services.bootstrap import Container
from services.models import DifAction
from workers import task_types
from workers.runtime import ExternalTask, Router


class DifRef(BaseModel):
    dif_id: uuid.UUID = Field(alias="difId")


class PlanVariables(DifRef):
    """The form `eylemleri-planla`: its dynamic list `actions` is checked entry by entry by services.difs."""

    root_cause: str | None = Field(None, alias="rootCause")
    actions: JsonValue = None


class Action(BaseModel):
    """One element of `openActions` (`difs.action_variables`): the multi-instance's `action`."""

    action_id: uuid.UUID = Field(alias="actionId")
    responsible: str | None = None


class CloseActionVariables(BaseModel):
    action: Action
    completion_note: str | None = Field(None, alias="completionNote")


class ActionOverdueVariables(BaseModel):
    action: Action
    # From the diagram's "DİF ayarları": reminders to the owner before the director is told.
    owner_reminders: int | None = Field(None, alias="ownerReminders")


class ApprovalVariables(DifRef):
    """The forms `mudur-onayi` and `eys-dogrulama`; the task's `step` property says whose fields count."""

    approval_decision: str | None = Field(None, alias="approvalDecision")
    approval_comment: str | None = Field(None, alias="approvalComment")
    send_back_actions: JsonValue = Field(None, alias="sendBackActions")
    verification_decision: str | None = Field(None, alias="verificationDecision")
    verification_comment: str | None = Field(None, alias="verificationComment")


# Which form fields hold the decision, the comment and the chosen actions of each approval step.
APPROVAL_FIELDS: dict[str, Callable[[ApprovalVariables], tuple[str | None, str | None, JsonValue]]] = {
    "mudur-onayi": lambda v: (v.approval_decision, v.approval_comment, v.send_back_actions),
    "eys-dogrulama": lambda v: (v.verification_decision, v.verification_comment, None),
}


class EscalateApprovalVariables(DifRef):
    # From the diagram's "DİF ayarları": the levels told in turn while the approval waits. Required
    # here (an incident when missing or empty): a BPMN error no boundary catches would end the
    # escalation branch silently in Camunda 7.
    approval_escalation_levels: list[str] = Field(alias="approvalEscalationLevels", min_length=1)


class ArchiveVariables(DifRef):
    # From the diagram's "DİF ayarları": years the records are kept after closing.
    retention_years: int | None = Field(None, alias="retentionYears")


def _branches(actions: list[DifAction]) -> dict[str, Any]:
    return {"openActions": [difs.action_variables(a) for a in actions]}


def router(container: Container) -> Router:
    tasks = Router()
    uow, mailer, settings = container.uow, container.mailer, container.settings
    engine = container.process_engine

    async def completer(task: ExternalTask) -> str:
        """Who completed the human step the task's `userTask` property names (the engine's history)."""
        actor = await asyncio.to_thread(
            engine.who_completed, task.process_instance_id, task.properties["userTask"]
        )
        return actor or "bilinmiyor"

    @tasks.task(task_types.DIF_START, DifRef)
    async def start(task: ExternalTask, v: DifRef) -> dict[str, Any]:
        started = await difs.opened(
            uow,
            mailer,
            dif_id=v.dif_id,
            process_instance_id=task.process_instance_id,
            tasklist_url=settings.tasklist_url,
        )
        return {
            "difNumber": started.number,
            "directorGroup": started.director_group,
            "staffGroup": started.staff_group,
            "findingDescription": started.finding,
            # The action's form links its evidence page (services/web/staff.py).
            "staffPagesUrl": f"{settings.public_base_url.rstrip('/')}/personel",
        }

    @tasks.task(task_types.DIF_RECORD_PLAN, PlanVariables)
    async def plan(task: ExternalTask, v: PlanVariables) -> dict[str, Any]:
        planned = await asyncio.to_thread(
            difs.record_plan,
            uow,
            dif_id=v.dif_id,
            root_cause=v.root_cause,
            actions=v.actions,
            actor=await completer(task),
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

    @tasks.task(task_types.DIF_CLOSE_ACTION, CloseActionVariables)
    async def close_action(task: ExternalTask, v: CloseActionVariables) -> dict[str, Any]:
        await asyncio.to_thread(
            difs.close_action,
            uow,
            action_id=v.action.action_id,
            note=v.completion_note,
            # The task is assigned to the action's owner by the diagram.
            actor=v.action.responsible or "bilinmiyor",
        )
        return {"inputError": None}

    @tasks.task(task_types.DIF_ACTION_OVERDUE, ActionOverdueVariables)
    async def action_overdue(task: ExternalTask, v: ActionOverdueVariables) -> dict[str, Any]:
        await difs.action_overdue(
            uow,
            mailer,
            action_id=v.action.action_id,
            owner_reminders=v.owner_reminders if v.owner_reminders is not None else 1,
            activity_instance_id=task.activity_instance_id,
            tasklist_url=settings.tasklist_url,
        )
        return {}

    @tasks.task(task_types.DIF_RECORD_APPROVAL, ApprovalVariables)
    async def approval(task: ExternalTask, v: ApprovalVariables) -> dict[str, Any]:
        step = task.properties.get("step", "")
        fields = APPROVAL_FIELDS.get(step)
        decision, comment, send_back = fields(v) if fields else (None, None, None)
        sent_back = await asyncio.to_thread(
            difs.record_approval,
            uow,
            dif_id=v.dif_id,
            step=step,
            decision=decision,
            comment=comment,
            send_back=send_back,
            actor=await completer(task),
            activity_instance_id=task.activity_instance_id,
        )
        return {**(_branches(sent_back) if sent_back else {}), "inputError": None}

    @tasks.task(task_types.DIF_ESCALATE_APPROVAL, EscalateApprovalVariables)
    async def escalate(task: ExternalTask, v: EscalateApprovalVariables) -> dict[str, Any]:
        level = await difs.escalate_approval(
            uow,
            mailer,
            dif_id=v.dif_id,
            chain=v.approval_escalation_levels,
            activity_instance_id=task.activity_instance_id,
            tasklist_url=settings.tasklist_url,
        )
        return {"lastEscalationLevel": level}

    @tasks.task(task_types.DIF_ARCHIVE, ArchiveVariables)
    async def archive(task: ExternalTask, v: ArchiveVariables) -> dict[str, Any]:
        from services import quality_reports  # fpdf costs ~60 MB: loaded by the first archive

        years = v.retention_years if v.retention_years is not None and v.retention_years > 0 else 20
        until = await asyncio.to_thread(
            difs.archive,
            uow,
            dif_id=v.dif_id,
            retention_years=years,
            render_pdf=partial(
                quality_reports.dif_pdf, font_path=settings.report_font_path, now=datetime.now(UTC)
            ),
        )
        return {"retentionUntil": until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    return tasks
