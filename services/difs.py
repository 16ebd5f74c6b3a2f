"""DİF — corrective/improvement actions (clauses 5.2, 5.4, 7): plan, carry out with evidence,
approve, verify, archive; with reminders and escalations when work or approvals stall.

Worker-facing functions are idempotent: keyed by the DİF or action and the external task's activity instance.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError
from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.orm import Session

from services import wording
from services.db import UnitOfWorkFactory, fetch_page
from services.models import (
    Dif,
    DifAction,
    DifApproval,
    DifArchive,
    Directorate,
    Escalation,
    EvidenceFile,
    Finding,
    Nonconformity,
    Office,
    QualityEvent,
)
from services.notifications import Mail, Mailer, send_once
from services.quality_records import (
    InvalidInput,
    MisconfiguredProcess,
    RecordNotFound,
    add_event,
    ensure_deletable,
    history,
    retention_until,
)
from services.validation import validate_email_address

LOCAL_TIME = ZoneInfo("Europe/Istanbul")
MAX_ACTIONS = 20
STEPS = {"mudur-onayi": {"onayla", "geri-gonder"}, "eys-dogrulama": {"kapat", "geri-gonder"}}
STATUS_AFTER = {
    ("mudur-onayi", "onayla"): "eys-dogrulamasinda",
    ("mudur-onayi", "geri-gonder"): "uygulamada",
    ("eys-dogrulama", "kapat"): "kapatiliyor",
    ("eys-dogrulama", "geri-gonder"): "mudur-onayinda",
}
STATUS_NAMES = {
    "planlanacak": "Planlanacak",
    "uygulamada": "Eylemler uygulamada",
    "mudur-onayinda": "Müdür onayında",
    "eys-dogrulamasinda": "EYS doğrulamasında",
    "kapatiliyor": "Kapatılıyor",
    "kapatildi": "Kapatıldı",
}


@dataclass(frozen=True)
class Started:
    number: str
    director_group: str
    staff_group: str
    finding: str


# ---------------------------------------------------------------- worker steps


async def opened(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    dif_id: uuid.UUID,
    process_instance_id: str,
    tasklist_url: str,
) -> Started:
    """The DİF's process runs: remember its instance and ask the director to plan the actions."""
    with uow_factory() as uow:
        dif = _lock(uow.session, dif_id)
        finding = uow.session.get(Finding, dif.finding_id)
        directorate = uow.session.get(Directorate, dif.directorate_code)
        assert finding is not None and directorate is not None
        if dif.process_instance_id is None:
            dif.process_instance_id = process_instance_id
            add_event(uow.session, "sureci-basladi", dif_id=dif.id)
        uow.commit()
        started = Started(
            dif.number, directorate.director_group, directorate.staff_group, finding.description
        )
        text = wording.render(
            uow.session,
            "personel.dif-acildi",
            "eposta",
            {
                "mudurluk": directorate.name,
                "bulgu_no": finding.number,
                "dif_no": dif.number,
                "bulgu": finding.description,
                "tasklist_adresi": tasklist_url,
            },
        )
        mail = Mail(recipient=directorate.director_email, subject=text.subject, body=text.body)
    await send_once(uow_factory, mailer, idempotency_key=f"dif-opened:{dif_id}", mail=mail)
    return started


def _lock(session: Session, dif_id: uuid.UUID) -> Dif:
    dif = session.get(Dif, dif_id, with_for_update=True)
    if dif is None:
        raise RecordNotFound(f"DİF {dif_id}")
    return dif


def parse_due(value: object, *, position: int, now: datetime) -> datetime:
    """A due date from the form (a day: the end of that day, Turkish time) or an API (a date-time)."""
    text_value = str(value or "").strip()
    try:
        if len(text_value) == 10:
            due = datetime.combine(date.fromisoformat(text_value), time(23, 59, 59), LOCAL_TIME)
        else:
            due = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
            if due.tzinfo is None:
                due = due.replace(tzinfo=LOCAL_TIME)
    except ValueError:
        raise InvalidInput(f"Eylem {position}: son tarih geçerli bir tarih değil.") from None
    if due <= now:
        raise InvalidInput(f"Eylem {position}: son tarih geçmişte olamaz.")
    return due.astimezone(UTC)


def record_plan(
    uow_factory: UnitOfWorkFactory,
    *,
    dif_id: uuid.UUID,
    root_cause: object,
    actions: object,
    actor: str,
) -> list[DifAction]:
    """The director's plan: a root cause and one or more actions, each with owner and due date."""
    cause = str(root_cause or "").strip()
    if not cause:
        raise InvalidInput("Kök neden yazılmalı.")
    if not isinstance(actions, list) or not actions:
        raise InvalidInput("En az bir eylem planlanmalı.")
    if len(actions) > MAX_ACTIONS:
        raise InvalidInput(f"En çok {MAX_ACTIONS} eylem planlanabilir.")
    now = datetime.now(UTC)
    planned: list[tuple[str, str, str, datetime]] = []
    for position, item in enumerate(actions, start=1):
        entry = item if isinstance(item, dict) else {}
        description = str(entry.get("description") or "").strip()
        responsible = str(entry.get("responsible") or "").strip()
        email = str(entry.get("responsibleEmail") or "").strip()
        if not description or len(description) > 2000:
            raise InvalidInput(f"Eylem {position}: açıklama 1-2000 karakter olmalı.")
        if not responsible or len(responsible) > 100:
            raise InvalidInput(f"Eylem {position}: sorumlu (Tasklist kullanıcı adı) yazılmalı.")
        try:
            email = validate_email_address(email)
        except EmailNotValidError:
            raise InvalidInput(f"Eylem {position}: sorumlunun e-posta adresi geçerli değil.") from None
        planned.append(
            (description, responsible, email, parse_due(entry.get("dueDate"), position=position, now=now))
        )
    with uow_factory() as uow:
        dif = _lock(uow.session, dif_id)
        existing = _actions(uow.session, dif.id)
        if not existing:  # a redelivered task finds the plan already recorded
            dif.root_cause = cause
            dif.planned_by = actor
            dif.status = "uygulamada"
            for position, (description, responsible, email, due) in enumerate(planned, start=1):
                uow.session.add(
                    DifAction(
                        id=uuid.uuid4(),
                        dif_id=dif.id,
                        position=position,
                        description=description,
                        responsible=responsible,
                        responsible_email=email,
                        due_at=due,
                        status="acik",
                    )
                )
            add_event(uow.session, "planlandi", dif_id=dif.id, actor=actor, details={"actions": len(planned)})
            uow.session.flush()
            existing = _actions(uow.session, dif.id)
        uow.commit()
        uow.session.expunge_all()
        return existing


def _actions(session: Session, dif_id: uuid.UUID) -> list[DifAction]:
    return list(
        session.scalars(select(DifAction).where(DifAction.dif_id == dif_id).order_by(DifAction.position))
    )


def action_variables(action: DifAction) -> dict[str, Any]:
    """What one multi-instance branch needs: ids, owner, due date (UTC, for the timers), the text."""
    return {
        "actionId": str(action.id),
        "position": action.position,
        "description": action.description,
        "responsible": action.responsible,
        "dueDate": action.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dueDateText": action.due_at.astimezone(LOCAL_TIME).strftime("%d.%m.%Y %H:%M"),
    }


def close_action(uow_factory: UnitOfWorkFactory, *, action_id: uuid.UUID, note: object, actor: str) -> bool:
    """Mark an action done; refused without evidence. True when every action of its DİF is done."""
    with uow_factory() as uow:
        action = uow.session.get(DifAction, action_id, with_for_update=True)
        if action is None:
            raise RecordNotFound(f"action {action_id}")
        if action.status != "tamamlandi":
            has_evidence = uow.session.scalar(select(exists().where(EvidenceFile.action_id == action.id)))
            if not has_evidence:
                raise InvalidInput(
                    "Kanıt yüklenmeden eylem kapatılamaz: önce kanıt dosyasını yükleyin, sonra tamamlayın."
                )
            action.status = "tamamlandi"
            action.completed_by = actor
            action.completed_at = datetime.now(UTC)
            action.completion_note = str(note or "").strip() or None
            add_event(
                uow.session,
                "eylem-tamamlandi",
                dif_id=action.dif_id,
                actor=actor,
                details={"actionId": str(action.id), "position": action.position},
            )
        open_left = uow.session.scalar(
            select(func.count())
            .select_from(DifAction)
            .where(DifAction.dif_id == action.dif_id, DifAction.status != "tamamlandi")
        )
        if not open_left:
            dif = _lock(uow.session, action.dif_id)
            if dif.status == "uygulamada":
                dif.status = "mudur-onayinda"
        uow.commit()
        return not open_left


def _count_earlier(session: Session, key: str, *, since: datetime | None = None, **where: Any) -> int:
    query = select(func.count()).select_from(Escalation).where(Escalation.idempotency_key != key)
    if since is not None:
        query = query.where(Escalation.at > since)
    for name, value in where.items():
        query = query.where(getattr(Escalation, name) == value)
    return session.scalar(query) or 0


async def action_overdue(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    action_id: uuid.UUID,
    owner_reminders: int,
    activity_instance_id: str,
    tasklist_url: str,
) -> str:
    """An action past its due date: the owner is reminded `owner_reminders` times, then the director."""
    key = f"action-overdue:{action_id}:{activity_instance_id}"
    with uow_factory() as uow:
        action = uow.session.get(DifAction, action_id)
        if action is None:
            raise RecordNotFound(f"action {action_id}")
        dif = uow.session.get(Dif, action.dif_id)
        assert dif is not None
        directorate = uow.session.get(Directorate, dif.directorate_code)
        assert directorate is not None
        earlier = _count_earlier(uow.session, key, action_id=action.id)
        to_owner = earlier < owner_reminders
        level, recipient = (
            ("sorumlu", action.responsible_email) if to_owner else ("mudur", directorate.director_email)
        )
        add_escalation(
            uow.session,
            dif_id=dif.id,
            action_id=action.id,
            kind="eylem-hatirlatma" if to_owner else "eylem-gecikmesi",
            level=level,
            recipient=recipient,
            key=key,
        )
        uow.commit()
        text = wording.render(
            uow.session,
            "personel.dif-eylem-hatirlatma" if to_owner else "personel.dif-eylem-gecikmesi",
            "eposta",
            {
                "sorumlu": action.responsible,
                "dif_no": dif.number,
                "eylem_sira": action.position,
                "son_tarih": f"{action.due_at.astimezone(LOCAL_TIME):%d.%m.%Y %H:%M}",
                "eylem": action.description,
                "hatirlatma_sayisi": owner_reminders,
                "tasklist_adresi": tasklist_url,
            },
        )
        mail = Mail(recipient=recipient, subject=text.subject, body=text.body)
    await send_once(uow_factory, mailer, idempotency_key=key, mail=mail)
    return level


def add_escalation(
    session: Session,
    *,
    dif_id: uuid.UUID,
    action_id: uuid.UUID | None,
    kind: str,
    level: str,
    recipient: str,
    key: str,
) -> None:
    if session.scalar(select(Escalation.id).where(Escalation.idempotency_key == key)):
        return
    session.add(
        Escalation(
            dif_id=dif_id,
            action_id=action_id,
            kind=kind,
            level=level,
            recipient=recipient,
            idempotency_key=key,
        )
    )
    add_event(
        session,
        "yukseltildi" if kind != "eylem-hatirlatma" else "hatirlatildi",
        dif_id=dif_id,
        details={"kind": kind, "level": level, "actionId": str(action_id) if action_id else None},
    )


def _recipient(session: Session, level: str, directorate: Directorate) -> str:
    """An escalation level named in the diagram → an address from the catalogue."""
    if level == "mudur":
        return directorate.director_email
    if level == "daire-baskani":
        return directorate.head_email
    office = session.get(Office, level)
    if office is None:
        raise MisconfiguredProcess(
            f"DİF ayarlarındaki onay yükseltme zincirinde '{level}' düzeyi tanınmıyor: ne 'mudur', ne "
            "'daire-baskani', ne de katalogdaki bir birim (ofis) kodu. Süreç sahibi "
            "approvalEscalationLevels ayarını düzeltip diyagramı yeniden yüklesin ya da birimi kataloğa "
            "eklesin; sonra Cockpit'te bu olayı yeniden deneyin."
        )
    return office.email


async def escalate_approval(
    uow_factory: UnitOfWorkFactory,
    mailer: Mailer,
    *,
    dif_id: uuid.UUID,
    chain: list[str],
    activity_instance_id: str,
    tasklist_url: str,
) -> str:
    """The director's approval waits too long: tell the next level of `chain` (the last one repeats)."""
    if not chain:
        raise MisconfiguredProcess("DİF ayarlarındaki onay yükseltme zinciri (approvalEscalationLevels) boş.")
    key = f"approval-escalation:{dif_id}:{activity_instance_id}"
    with uow_factory() as uow:
        dif = _lock(uow.session, dif_id)
        directorate = uow.session.get(Directorate, dif.directorate_code)
        assert directorate is not None
        # Each approval round (after a send-back the director approves anew) starts at the first level.
        round_started = uow.session.scalar(
            select(func.max(DifApproval.at)).where(DifApproval.dif_id == dif.id)
        )
        earlier = _count_earlier(uow.session, key, dif_id=dif.id, kind="onay", since=round_started)
        level = chain[min(earlier, len(chain) - 1)]
        recipient = _recipient(uow.session, level, directorate)
        add_escalation(
            uow.session, dif_id=dif.id, action_id=None, kind="onay", level=level, recipient=recipient, key=key
        )
        uow.commit()
        text = wording.render(
            uow.session,
            "personel.dif-onay-yukseltme",
            "eposta",
            {
                "mudurluk": directorate.name,
                "dif_no": dif.number,
                "kacinci": earlier + 1,
                "tasklist_adresi": tasklist_url,
            },
        )
        mail = Mail(recipient=recipient, subject=text.subject, body=text.body)
    await send_once(uow_factory, mailer, idempotency_key=key, mail=mail)
    return level


def record_approval(
    uow_factory: UnitOfWorkFactory,
    *,
    dif_id: uuid.UUID,
    step: str,
    decision: object,
    comment: object,
    send_back: object,
    actor: str,
    activity_instance_id: str,
) -> list[DifAction]:
    """The director's approval or send-back, or the IMS office's verification; returns the actions
    to carry out again (empty unless the director sent some back)."""
    if step not in STEPS:
        raise InvalidInput(f"unknown approval step {step}")
    if decision not in STEPS[step]:
        raise InvalidInput("Karar seçilmeli.")
    text = str(comment or "").strip()
    if not text:
        raise InvalidInput("Kararın gerekçesi / açıklaması yazılmalı.")
    key = f"approval:{dif_id}:{activity_instance_id}"
    with uow_factory() as uow:
        dif = _lock(uow.session, dif_id)
        actions = _actions(uow.session, dif.id)
        chosen: list[DifAction] = []
        if step == "mudur-onayi" and decision == "geri-gonder":
            wanted = {str(v) for v in send_back} if isinstance(send_back, list) else set()
            chosen = [a for a in actions if str(a.id) in wanted]
            if not chosen:
                raise InvalidInput("Geri gönderilecek en az bir eylem seçilmeli.")
        done = uow.session.scalar(select(DifApproval).where(DifApproval.idempotency_key == key))
        if done is None:
            uow.session.add(
                DifApproval(
                    dif_id=dif.id,
                    step=step,
                    decision=str(decision),
                    comment=text,
                    actor=actor,
                    details={"sentBack": [str(a.id) for a in chosen]},
                    idempotency_key=key,
                )
            )
            for action in chosen:
                action.status = "geri-gonderildi"
                action.completed_at = None
            dif.status = STATUS_AFTER[(step, str(decision))]
            add_event(
                uow.session,
                f"{step}:{decision}",
                dif_id=dif.id,
                actor=actor,
                details={"comment": text, "sentBack": [a.position for a in chosen]},
            )
        uow.commit()
        uow.session.expunge_all()
        return chosen


def archive(
    uow_factory: UnitOfWorkFactory,
    *,
    dif_id: uuid.UUID,
    retention_years: int,
    render_pdf: Callable[[DifDetail], bytes],
) -> datetime:
    """Close the DİF with its finding and nonconformity; archive its report until the retention date."""
    with uow_factory() as uow:
        dif = _lock(uow.session, dif_id)
        archived = uow.session.get(DifArchive, dif.id)
        if archived is not None:
            return archived.retention_until
        closed_at = datetime.now(UTC)
        keep_until = retention_until(closed_at, retention_years)
        dif.status = "kapatildi"
        dif.closed_at, dif.retention_until = closed_at, keep_until
        finding = uow.session.get(Finding, dif.finding_id, with_for_update=True)
        assert finding is not None
        finding.closed_at, finding.retention_until = closed_at, keep_until
        nc = uow.session.get(Nonconformity, finding.nonconformity_id, with_for_update=True)
        assert nc is not None
        nc.status = "kapatildi"
        nc.closed_at, nc.retention_until = closed_at, keep_until
        add_event(uow.session, "kapatildi", dif_id=dif.id, details={"retentionUntil": keep_until.isoformat()})
        add_event(uow.session, "kapatildi", nonconformity_id=nc.id, details={"dif": dif.number})
        uow.session.flush()
        pdf = render_pdf(_detail(uow.session, dif))
        uow.session.add(
            DifArchive(
                dif_id=dif.id, retention_until=keep_until, sha256=hashlib.sha256(pdf).hexdigest(), pdf=pdf
            )
        )
        uow.commit()
        return keep_until


# ---------------------------------------------------------------- reading


@dataclass
class DifDetail:
    dif: Dif
    finding: Finding
    nonconformity: Nonconformity
    directorate: Directorate
    actions: list[DifAction]
    evidence: list[EvidenceFile]
    approvals: list[DifApproval]
    escalations: list[Escalation]
    events: list[QualityEvent] = field(default_factory=list)


def _detail(session: Session, dif: Dif) -> DifDetail:
    finding = session.get(Finding, dif.finding_id)
    assert finding is not None
    nc = session.get(Nonconformity, finding.nonconformity_id)
    directorate = session.get(Directorate, dif.directorate_code)
    assert nc is not None and directorate is not None
    actions = _actions(session, dif.id)
    return DifDetail(
        dif=dif,
        finding=finding,
        nonconformity=nc,
        directorate=directorate,
        actions=actions,
        evidence=list(
            session.scalars(
                select(EvidenceFile)
                .where(EvidenceFile.action_id.in_([a.id for a in actions]))
                .order_by(EvidenceFile.uploaded_at)
            )
        ),
        approvals=list(
            session.scalars(select(DifApproval).where(DifApproval.dif_id == dif.id).order_by(DifApproval.at))
        ),
        escalations=list(
            session.scalars(select(Escalation).where(Escalation.dif_id == dif.id).order_by(Escalation.at))
        ),
        events=history(session, dif_id=dif.id),
    )


def get(uow_factory: UnitOfWorkFactory, dif_id: uuid.UUID) -> DifDetail:
    with uow_factory() as uow:
        dif = uow.session.get(Dif, dif_id)
        if dif is None:
            raise RecordNotFound(f"DİF {dif_id}")
        detail = _detail(uow.session, dif)
        uow.session.expunge_all()
        return detail


def directorate_of(uow_factory: UnitOfWorkFactory, dif_id: uuid.UUID) -> str:
    """Whose DİF it is (for access checks before anything of it is read)."""
    with uow_factory() as uow:
        code = uow.session.scalar(select(Dif.directorate_code).where(Dif.id == dif_id))
        if code is None:
            raise RecordNotFound(f"DİF {dif_id}")
        return code


@dataclass(frozen=True)
class DifFilter:
    directorate: str | None = None
    status: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    overdue: bool | None = None


def _filtered(query: Select[Any], f: DifFilter, now: datetime) -> Select[Any]:
    if f.directorate is not None:
        query = query.where(Dif.directorate_code == f.directorate)
    if f.status is not None:
        query = query.where(Dif.status == f.status)
    if f.opened_from is not None:
        query = query.where(Dif.opened_at >= f.opened_from)
    if f.opened_to is not None:
        query = query.where(Dif.opened_at < f.opened_to)
    if f.overdue is not None:
        late = exists().where(
            DifAction.dif_id == Dif.id, DifAction.status != "tamamlandi", DifAction.due_at < now
        )
        query = query.where(late if f.overdue else ~late)
    return query


def search(uow_factory: UnitOfWorkFactory, f: DifFilter, *, page: int, size: int) -> tuple[list[Dif], int]:
    now = datetime.now(UTC)
    return fetch_page(
        uow_factory, _filtered(select(Dif), f, now), Dif.opened_at.desc(), Dif.id, page=page, size=size
    )


def register(uow_factory: UnitOfWorkFactory, f: DifFilter, *, limit: int = 10_000) -> list[DifDetail]:
    """The Corrective and Preventive Actions Report's rows (clause 7), oldest first."""
    now = datetime.now(UTC)
    with uow_factory() as uow:
        difs = list(
            uow.session.scalars(_filtered(select(Dif), f, now).order_by(Dif.opened_at, Dif.id).limit(limit))
        )
        details = [_detail(uow.session, dif) for dif in difs]
        uow.session.expunge_all()
        return details


def delete_records(uow_factory: UnitOfWorkFactory, *, dif_id: uuid.UUID) -> None:
    """Delete a DİF with its finding and nonconformity once their retention has ended; never before."""
    with uow_factory() as uow:
        dif = _lock(uow.session, dif_id)
        ensure_deletable("DİF", dif.retention_until)
        delete_chain(uow.session, dif)
        uow.commit()


def delete_chain(session: Session, dif: Dif) -> None:
    finding = session.get(Finding, dif.finding_id)
    assert finding is not None
    action_ids = select(DifAction.id).where(DifAction.dif_id == dif.id)
    session.execute(delete(EvidenceFile).where(EvidenceFile.action_id.in_(action_ids)))
    for model in (Escalation, DifApproval, QualityEvent):
        session.execute(delete(model).where(model.dif_id == dif.id))
    session.execute(delete(DifArchive).where(DifArchive.dif_id == dif.id))
    session.execute(delete(DifAction).where(DifAction.dif_id == dif.id))
    session.execute(delete(Dif).where(Dif.id == dif.id))
    nonconformity_id = finding.nonconformity_id
    session.execute(delete(Finding).where(Finding.id == finding.id))
    session.execute(delete(QualityEvent).where(QualityEvent.nonconformity_id == nonconformity_id))
    session.execute(delete(Nonconformity).where(Nonconformity.id == nonconformity_id))
