"""Nonconformity and DİF records on real PostgreSQL (rolled back per test): jobs delivered twice
leave one record, retention guards deletion, evidence is checked, reports carry Turkish text."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from deploy.local.mailbox import read_mailbox
from services import catalogue, difs, evidence, nonconformities, quality_reports
from services.bootstrap import Container
from services.models import (
    Dif,
    DifAction,
    DifApproval,
    Escalation,
    EvidenceFile,
    Finding,
    Nonconformity,
    OutboxMessage,
)
from services.quality_records import InvalidInput, UnderRetention, retention_until

PDF = b"%PDF-1.4\n%%EOF\n"


def _count(container: Container, model: type, *where: object) -> int:
    with container.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def _reported(container: Container) -> Nonconformity:
    catalogue.load_seed_if_empty(container.uow)
    row, created = nonconformities.report(
        container.uow,
        nonconformities.NewNonconformity(
            directorate_code="TEMIZLIK",
            description="Çöp konteynerleri İğdır caddesinde üç gündür boşaltılmadı.",
            source="denetim",
            found_by="denetci.ayşe",
            reference=f"DNT-{uuid.uuid4()}",
        ),
    )
    assert created
    return row


def _plan() -> dict[str, object]:
    due = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    return {
        "root_cause": "Rota planı güncel değil.",
        "actions": [
            {
                "description": "Rota güncellensin.",
                "responsible": "ali",
                "responsibleEmail": "ali@belediye.local",
                "dueDate": due,
            },
            {
                "description": "Ekip eğitimi.",
                "responsible": "ayşe",
                "responsibleEmail": "ayse@belediye.local",
                "dueDate": due,
            },
        ],
        "actor": "mudur.temizlik",
    }


def _dif_with_plan(container: Container) -> tuple[Dif, list[DifAction]]:
    nc = _reported(container)
    nonconformities.record(container.uow, nonconformity_id=nc.id, request_id=None, process_instance_id="4501")
    dif = nonconformities.open_finding(container.uow, nonconformity_id=nc.id)
    return dif, difs.record_plan(container.uow, dif_id=dif.id, **_plan())  # type: ignore[arg-type]


# ---------------------------------------------------------------- jobs delivered twice


def test_recording_and_opening_the_finding_twice_leaves_one_of_each(container: Container) -> None:
    nc = _reported(container)
    for _ in range(2):
        recorded = nonconformities.record(
            container.uow, nonconformity_id=nc.id, request_id=None, process_instance_id="777"
        )
        dif = nonconformities.open_finding(container.uow, nonconformity_id=nc.id)
    assert recorded.number == nc.number
    assert _count(container, Finding, Finding.nonconformity_id == nc.id) == 1
    assert _count(container, Dif, Dif.id == dif.id) == 1
    assert (
        _count(
            container,
            OutboxMessage,
            OutboxMessage.message_name == "dif-acildi",
            OutboxMessage.correlation_key == str(dif.id),
        )
        == 1
    )


def test_a_plan_an_approval_and_a_closure_recorded_twice_count_once(container: Container) -> None:
    dif, actions = _dif_with_plan(container)
    again = difs.record_plan(container.uow, dif_id=dif.id, **_plan())  # type: ignore[arg-type]
    assert [a.id for a in again] == [a.id for a in actions]
    with container.uow() as uow:
        for action in actions:
            uow.session.add(
                EvidenceFile(
                    action_id=action.id,
                    file_name="a.pdf",
                    content_type="application/pdf",
                    size=len(PDF),
                    sha256="0" * 64,
                    uploaded_by="ali",
                    content=PDF,
                )
            )
        uow.commit()
    for action in actions:
        for _ in range(2):
            difs.close_action(container.uow, action_id=action.id, note="Yapıldı.", actor="ali")
    for _ in range(2):
        difs.record_approval(
            container.uow,
            dif_id=dif.id,
            step="mudur-onayi",
            decision="onayla",
            comment="Uygun.",
            send_back=None,
            actor="mudur",
            activity_instance_id="99",
        )
    assert _count(container, DifApproval, DifApproval.dif_id == dif.id) == 1
    assert difs.get(container.uow, dif.id).dif.status == "eys-dogrulamasinda"


async def test_an_overdue_action_handled_twice_mails_and_escalates_once(
    container: Container, mailbox: tuple[int, Path]
) -> None:
    dif, actions = _dif_with_plan(container)
    for _ in range(2):
        level = await difs.action_overdue(
            container.uow,
            container.mailer,
            action_id=actions[0].id,
            owner_reminders=1,
            activity_instance_id="5",
            tasklist_url="http://tasklist",
        )
    assert level == "sorumlu"
    assert _count(container, Escalation, Escalation.dif_id == dif.id) == 1
    assert len([m for m in read_mailbox(mailbox[1]) if m["To"] == "ali@belediye.local"]) == 1
    # A new firing of the timer is a new element instance: after one reminder, the director.
    assert (
        await difs.action_overdue(
            container.uow,
            container.mailer,
            action_id=actions[0].id,
            owner_reminders=1,
            activity_instance_id="6",
            tasklist_url="http://tasklist",
        )
        == "mudur"
    )


# ---------------------------------------------------------------- validation


def test_plans_and_decisions_without_what_the_procedure_requires_are_refused(container: Container) -> None:
    dif, _ = _dif_with_plan(container)
    now = datetime.now(UTC)
    with pytest.raises(InvalidInput, match="geçmişte"):
        difs.parse_due((now - timedelta(days=1)).date().isoformat(), position=1, now=now)
    with pytest.raises(InvalidInput, match="geçerli bir tarih"):
        difs.parse_due("31.12.2026", position=2, now=now)
    assert difs.parse_due("2099-01-01", position=1, now=now) == datetime(2099, 1, 1, 20, 59, 59, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="Kök neden"):
        difs.record_plan(container.uow, dif_id=dif.id, root_cause=" ", actions=[], actor="m")
    with pytest.raises(InvalidInput, match="gerekçe"):
        difs.record_approval(
            container.uow,
            dif_id=dif.id,
            step="eys-dogrulama",
            decision="kapat",
            comment="",
            send_back=None,
            actor="eys",
            activity_instance_id="1",
        )
    with pytest.raises(InvalidInput, match="en az bir eylem"):
        difs.record_approval(
            container.uow,
            dif_id=dif.id,
            step="mudur-onayi",
            decision="geri-gonder",
            comment="Eksik.",
            send_back=[],
            actor="m",
            activity_instance_id="2",
        )
    nc = _reported(container)
    with pytest.raises(InvalidInput, match="gerekçesi"):
        nonconformities.record_decision(
            container.uow,
            nonconformity_id=nc.id,
            decision="yeniden-ac",
            institution_code=None,
            justification="  ",
            actor="pr",
            activity_instance_id="3",
        )


@pytest.mark.parametrize(
    ("name", "content_type", "data", "message"),
    [
        ("a.pdf", "application/pdf", b"", "empty"),
        ("a.pdf", "application/pdf", b"%PDF-" + b"0" * 100, "larger than"),
        ("a.exe", "application/x-msdownload", b"MZ", "not allowed"),
        ("a.pdf", "application/pdf", b"MZ not a pdf", "content is not"),
        ("a.txt", "text/plain", b"\xff\xfe\x00bad", "UTF-8"),
        ("../a.pdf", "application/pdf", PDF, "file name"),
    ],
)
def test_evidence_checks_size_type_content_and_name(
    name: str, content_type: str, data: bytes, message: str
) -> None:
    upload = evidence.Upload(file_name=name, content_type=content_type, data=data, uploaded_by="ali")
    with pytest.raises(evidence.EvidenceRejected, match=message) as refused:
        evidence.check(upload, max_bytes=64, allowed_types=["application/pdf", "text/plain"])
    assert refused.value.too_large == (message == "larger than")


def test_turkish_text_evidence_within_limits_passes() -> None:
    upload = evidence.Upload(
        file_name="tutanak-İğdır.txt",
        content_type="text/plain; charset=utf-8",
        data="Çöp toplandı.".encode(),
        uploaded_by="ali",
    )
    evidence.check(upload, max_bytes=64, allowed_types=["text/plain"])


# ---------------------------------------------------------------- retention


def test_retention_is_twenty_years_after_closure_even_from_29_february() -> None:
    assert retention_until(datetime(2028, 2, 29, 10, tzinfo=UTC), 20) == datetime(2048, 2, 29, 10, tzinfo=UTC)
    assert retention_until(datetime(2028, 2, 29, 10, tzinfo=UTC), 1) == datetime(2029, 2, 28, 10, tzinfo=UTC)


def test_records_under_retention_cannot_be_deleted_by_the_service_or_in_the_database(
    container: Container,
) -> None:
    nc = _reported(container)
    with pytest.raises(UnderRetention, match="silinemez"):
        nonconformities.delete(container.uow, nc.id)
    future = datetime.now(UTC) + timedelta(days=365 * 20)
    with container.uow() as uow:
        uow.session.execute(
            update(Nonconformity).where(Nonconformity.id == nc.id).values(retention_until=future)
        )
        uow.session.flush()
        with pytest.raises(DBAPIError, match="under retention"), uow.session.begin_nested():
            uow.session.execute(delete(Nonconformity).where(Nonconformity.id == nc.id))
        uow.commit()
    with pytest.raises(UnderRetention, match=f"{future:%d.%m.%Y}"):
        nonconformities.delete(container.uow, nc.id)


def test_a_record_past_its_retention_may_be_deleted_with_its_finding_and_dif(container: Container) -> None:
    dif, _ = _dif_with_plan(container)
    past = datetime.now(UTC) - timedelta(days=1)
    with container.uow() as uow:
        for model in (Dif, Finding, Nonconformity):
            uow.session.execute(
                update(model).values(retention_until=past).where(model.retention_until.is_(None))
            )
        uow.commit()
    difs.delete_records(container.uow, dif_id=dif.id)
    assert _count(container, Dif, Dif.id == dif.id) == 0
    assert _count(container, DifAction, DifAction.dif_id == dif.id) == 0


# ---------------------------------------------------------------- reports


def test_register_and_report_carry_the_records_in_turkish(container: Container) -> None:
    dif, _ = _dif_with_plan(container)
    detail = difs.get(container.uow, dif.id)
    now = datetime.now(UTC)
    book = load_workbook(
        io.BytesIO(quality_reports.register_xlsx([detail], now=now, filters="müdürlük=TEMIZLIK"))
    )
    sheet = book.active
    assert sheet is not None
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][0] == "Düzeltici ve Önleyici Faaliyetler Raporu" and "müdürlük=TEMIZLIK" in str(rows[1][0])
    assert rows[3][:3] == [dif.number, "Temizlik İşleri Müdürlüğü", "Eylemler uygulamada"]
    assert rows[3][8] == "Çöp konteynerleri İğdır caddesinde üç gündür boşaltılmadı."
    pdf = partial(quality_reports.dif_pdf, font_path=container.settings.report_font_path, now=now)(detail)
    text_ = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (
        dif.number,
        "Rota planı güncel değil.",
        "Ekip eğitimi.",
        "ayşe",
        "İğdır caddesinde",
        "Denetim / saha kontrolü",
        "Eylemler planlandı",  # the history in Turkish, not its code
    ):
        assert expected in text_, expected
    assert "planlandi" not in text_
