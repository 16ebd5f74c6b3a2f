"""KVKK retention: personal data of requests closed longer ago than the period in the diagram are
anonymised; the request, its history and its DİF records stay.

Service level on the test database (a request with a full history: a mail to the directorate, an
information request answered by the citizen, a staff note, the answer, a citizen's nonconformity
with its finding and DİF), then on the engine: a request driven to its close through the API and
Tasklist (each step by its person), the nightly process started by hand (its message start, as an
administrator does it) and by its timer (a copy of the diagram whose cron fires a few seconds after
it is deployed, as a process owner would set it for a trial run).
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from services import anonymisation, catalogue, nonconformities
from services import citizen_requests as requests
from services.anonymisation import ANONYMISED
from services.bootstrap import Container
from services.models import (
    CitizenContact,
    CitizenReply,
    CitizenRequest,
    Dif,
    Finding,
    Nonconformity,
    Notification,
    QualityEvent,
    RequestEvent,
    RequestPhoto,
)
from services.operaton import Operaton
from tests.integration.citizen import instance_of, submit, wait_mail, wait_status
from tests.integration.modeler import edited
from tests.integration.tasklist import complete, person, poll, wait_for_state

PROCESS = "kisisel-veri-anonimlestirme"
BY_HAND = "kisisel-veri-anonimlestirme-istendi"  # the message of its "Elle başlatıldı" start
NIGHTLY_CRON = "<bpmn:timeCycle>0 30 2 * * ?</bpmn:timeCycle>"
NAME = "Zeynep Güler Karaağaç"
PHONE = "+905429876543"
ADDRESS = "Çankaya Mah. Atatürk Cd. No:12, Akdeniz/Mersin"
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(64)  # a PNG signature is what the intake checks
PUBLIC_LINE = "Saklama süresi dolduğundan kişisel verileriniz anonimleştirildi."


def _id() -> str:
    """A made-up process or activity instance id, unique in the shared test database."""
    return str(uuid.uuid4())


def _email() -> str:
    return f"zeynep.{uuid.uuid4().hex[:8]}@vatandas.local"


async def _closed_request(container: Container, *, email: str, channel: str = "eposta") -> CitizenRequest:
    """A request that went the whole way, leaving personal data wherever the product keeps any."""
    catalogue.load_seed_if_empty(container.uow)
    request, _ = requests.submit(
        container.uow,
        requests.Intake(
            channel=channel,
            channel_reference=f"<{uuid.uuid4()}@{email.split('@')[1]}> {email}",
            request_type="sikayet",
            category_code="YOL-CUKUR",
            description=f"Evimin önünde çukur var. Ben {NAME}, bana 0542 987 65 43'ten ulaşabilirsiniz.",
            latitude=36.8,
            longitude=34.6,
            contact=requests.Contact(
                full_name=NAME, phone=PHONE, email=email, address=ADDRESS, preferred_channel="eposta"
            ),
            photos=(requests.Photo("kapimin-onu.png", "image/png", PHOTO),),
        ),
    )
    requests.route(
        container.uow,
        request_id=request.id,
        category_code="YOL-CUKUR",
        process_instance_id=_id(),
        activity_instance_id=_id(),
    )
    await requests.notify_directorate(
        container.uow, container.mailer, request_id=request.id, activity_instance_id=_id(), tasklist_url="-"
    )
    await requests.ask_citizen(
        container.uow,
        container.mailer,
        container.sms,
        request_id=request.id,
        question="Çukur hangi binanın önünde?",
        activity_instance_id=_id(),
    )
    requests.accept_reply(
        container.uow, tracking_code=request.tracking_code, text=f"{ADDRESS} önünde. {NAME}, 0542 987 6543"
    )
    requests.record_step(
        container.uow,
        request_id=request.id,
        event="mudurluk-degerlendirmesi",
        actor="ahmet.yol",
        details={
            "outcome": "yapildi",
            "resolution": f"{NAME.upper()} arandı (05429876543); çukur kapatıldı.",
        },
        activity_instance_id=_id(),
    )
    await requests.answer_citizen(
        container.uow,
        container.mailer,
        container.sms,
        request_id=request.id,
        outcome="yapildi",
        objection_period=timedelta(days=15),
        activity_instance_id=_id(),
    )
    return request


def _report_nonconformity(container: Container, request: CitizenRequest) -> Nonconformity:
    nc, _ = nonconformities.report(
        container.uow,
        nonconformities.NewNonconformity(
            directorate_code="YOL",
            description=f"{NAME} ({PHONE}) çukurun yeniden açıldığını bildirdi.",
            source="vatandas",
            found_by=NAME,
            request_tracking_code=request.tracking_code,
        ),
    )
    nonconformities.record(container.uow, nonconformity_id=nc.id, request_id=None, process_instance_id=_id())
    nonconformities.open_finding(container.uow, nonconformity_id=nc.id)
    return nc


def _age(container: Container, request_id: uuid.UUID) -> None:
    """Move the request's close three years back (through the ORM, as the audit trail wants)."""
    with container.uow() as uow:
        request = uow.session.get(CitizenRequest, request_id)
        assert request is not None and request.closed_at is not None
        request.closed_at -= timedelta(days=3 * 365 + 1)
        uow.commit()


def _raw_contact(container: Container, request_id: uuid.UUID) -> dict[str, Any]:
    with container.engine.connect() as connection:
        row = connection.execute(
            text("SELECT full_name, phone, email, address FROM citizen_contacts WHERE request_id = :r"),
            {"r": request_id},
        ).mappings()
        return dict(row.one())


def _contact(container: Container, request_id: uuid.UUID) -> CitizenContact:
    with container.uow() as uow:
        contact = uow.session.get(CitizenContact, request_id)
        assert contact is not None
        uow.session.expunge(contact)
        return contact


def _everything_of(container: Container, request_id: uuid.UUID) -> str:
    """Every stored text of the request and the quality records on it, as one string."""
    with container.uow() as uow:
        s = uow.session
        request = s.get(CitizenRequest, request_id)
        ncs = list(s.scalars(select(Nonconformity).where(Nonconformity.request_id == request_id)))
        findings = list(s.scalars(select(Finding).where(Finding.nonconformity_id.in_([n.id for n in ncs]))))
        dif_ids = list(s.scalars(select(Dif.id).where(Dif.finding_id.in_([f.id for f in findings]))))
        rows: list[Any] = [
            request,
            s.get(CitizenContact, request_id),
            *s.scalars(select(RequestEvent).where(RequestEvent.request_id == request_id)),
            *s.scalars(select(CitizenReply).where(CitizenReply.request_id == request_id)),
            *ncs,
            *findings,
            *s.scalars(
                select(QualityEvent).where(
                    QualityEvent.nonconformity_id.in_([n.id for n in ncs]) | QualityEvent.dif_id.in_(dif_ids)
                )
            ),
        ]
        return " | ".join(
            str({k: v for k, v in vars(row).items() if not k.startswith("_")}) for row in rows if row
        )


def _personal_data_in(haystack: str, email: str) -> list[str]:
    needles = [
        NAME,
        NAME.upper(),
        "Zeynep",
        "Karaağaç",
        email,
        "Atatürk Cd",
        "9876543",
        "987 65 43",
        "987 6543",
    ]
    return [n for n in needles if n in haystack]


async def test_closed_requests_past_the_period_are_anonymised_and_their_records_stay(
    container: Container,
) -> None:
    old_email, recent_email, open_email = _email(), _email(), _email()
    old = await _closed_request(container, email=old_email)
    nc = _report_nonconformity(container, old)
    _age(container, old.id)
    recent = await _closed_request(container, email=recent_email)
    still_open, _ = requests.submit(
        container.uow,
        requests.Intake(
            channel="web",
            channel_reference=f"WEB-{uuid.uuid4()}",
            request_type="istek",
            category_code="YOL-CUKUR",
            description="Açık talep.",
            latitude=None,
            longitude=None,
            contact=requests.Contact(NAME, PHONE, open_email, ADDRESS, "eposta"),
        ),
    )
    before = _raw_contact(container, old.id)
    assert _personal_data_in(_everything_of(container, old.id), old_email), "the fixture lost its data"
    with container.uow() as uow:
        events_before = len(
            list(uow.session.scalars(select(RequestEvent.id).where(RequestEvent.request_id == old.id)))
        )

    count = anonymisation.anonymise_closed_requests(
        container.uow, older_than=anonymisation.parse_period("P2Y"), now=datetime.now(UTC), batch_size=1
    )

    assert count >= 1
    contact = _contact(container, old.id)
    assert (contact.full_name, contact.phone, contact.email, contact.address) == (
        ANONYMISED,
        None,
        None,
        None,
    )
    after = _raw_contact(container, old.id)
    assert after["phone"] is None and after["email"] is None and after["address"] is None
    assert after["full_name"] != before["full_name"]  # the name's ciphertext is gone too
    assert _personal_data_in(_everything_of(container, old.id), old_email) == []
    # Mails and SMS to the citizen no longer name them; the directorate's mail keeps its address.
    with container.uow() as uow:
        assert not list(uow.session.scalars(select(Notification).where(Notification.recipient == old_email)))
        recipients = {
            n.idempotency_key.split(":")[0]: n.recipient
            for n in uow.session.scalars(
                select(Notification).where(Notification.idempotency_key.contains(str(old.id)))
            )
        }
    assert recipients == {"notify": "yol.bakim@belediye.local", "ask": ANONYMISED, "answer": ANONYMISED}

    # The request, its whole history (plus one line), the reply's place and the quality records stay.
    request, events = requests.get_by_tracking(container.uow, old.tracking_code)
    assert (request.status, request.answer, request.directorate_code) == ("kapatildi", "olumlu", "YOL")
    assert request.anonymised_at is not None
    assert "<ad soyad>" in request.description and "<telefon>" in request.description
    assert len(events) == events_before + 1
    assert events[-1].event == "kisisel-veriler-anonimlestirildi"
    assert events[-1].public_text == PUBLIC_LINE
    assessment = next(e for e in events if e.event == "mudurluk-degerlendirmesi")
    assert assessment.details["resolution"] == "<ad soyad> arandı (<telefon>); çukur kapatıldı."
    with container.uow() as uow:
        reply = uow.session.scalars(select(CitizenReply).where(CitizenReply.request_id == old.id)).one()
        assert reply.text == ANONYMISED
        kept = uow.session.get(Nonconformity, nc.id)
        assert kept is not None and kept.found_by == ANONYMISED and kept.source == "vatandas"
        assert kept.description == "<ad soyad> (<telefon>) çukurun yeniden açıldığını bildirdi."
        finding = uow.session.scalars(select(Finding).where(Finding.nonconformity_id == nc.id)).one()
        assert finding.description == kept.description
        assert uow.session.scalars(select(Dif).where(Dif.finding_id == finding.id)).one()
        actors = set(
            uow.session.scalars(select(QualityEvent.actor).where(QualityEvent.nonconformity_id == nc.id))
        )
        assert NAME not in actors and ANONYMISED in actors

    # The photo (which may show the house, a face or a plate) is gone; the recent one's stays.
    with container.uow() as uow:
        photos = {
            p.request_id: p.sha256
            for p in uow.session.scalars(
                select(RequestPhoto).where(RequestPhoto.request_id.in_([old.id, recent.id]))
            )
        }
    assert photos == {recent.id: hashlib.sha256(PHOTO).hexdigest()}

    # A recently closed request and an open one keep their data.
    assert _contact(container, recent.id).email == recent_email
    assert _contact(container, still_open.id).full_name == NAME

    # A redelivered job finds nothing left to do.
    assert (
        anonymisation.anonymise_closed_requests(
            container.uow, older_than=timedelta(days=730), now=datetime.now(UTC), batch_size=50
        )
        == 0
    )
    with container.uow() as uow:
        assert (
            len(
                list(
                    uow.session.scalars(
                        select(RequestEvent).where(
                            RequestEvent.request_id == old.id,
                            RequestEvent.event == "kisisel-veriler-anonimlestirildi",
                        )
                    )
                )
            )
            == 1
        )


async def test_two_runs_at_once_anonymise_each_request_once(container: Container) -> None:
    mine = []
    for _ in range(4):
        request = await _closed_request(container, email=_email())
        _age(container, request.id)
        mine.append(request.id)
    counts: list[int] = []

    def run() -> None:
        counts.append(
            anonymisation.anonymise_closed_requests(
                container.uow, older_than=timedelta(days=730), now=datetime.now(UTC), batch_size=1
            )
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) >= len(mine)
    with container.uow() as uow:
        lines = list(
            uow.session.scalars(
                select(RequestEvent.request_id).where(
                    RequestEvent.request_id.in_(mine),
                    RequestEvent.event == "kisisel-veriler-anonimlestirildi",
                )
            )
        )
    assert sorted(lines) == sorted(mine)


# ---------------------------------------------------------------- on the engine


def _start_by_hand() -> str:
    """What an administrator does to run the job now: its "Elle başlatıldı" message."""
    started = person("yonetici").json(
        "POST", "/message", json={"messageName": BY_HAND, "resultEnabled": True}
    )
    (result,) = started
    return str(result["processInstance"]["id"])


def _variables(engine: Operaton, instance: str) -> list[dict[str, Any]]:
    """The instance's variables as Cockpit's history shows them (the instance has ended)."""
    return list(engine.historic_variables(processInstanceId=instance))


def _variable(engine: Operaton, instance: str, name: str) -> Any:
    return next((v["value"] for v in _variables(engine, instance) if v["name"] == name), None)


def test_the_nightly_process_anonymises_an_old_closed_request_and_its_history_stays(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path, app_container: Container
) -> None:
    tracking, body = submit(api)
    email = body["citizen"]["email"]
    instance = instance_of(tracking)
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "bilgi-gerekli", "question": "Tam yer?"},
        assignee="yol.personel",
    )
    wait_mail(mailbox_dir, to=email, containing="Tam yer?")
    wait_status(tracking, "bilgi-bekleniyor")
    reply = api.post(f"/requests/{tracking}/replies", json={"text": "Ayşe Yıldırım Öztürk, kapı no 4."})
    assert reply.status_code == 202, reply.text
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Kapatıldı."},
        assignee="yol.personel",
    )
    complete(
        engine,
        instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun", "closureNote": ""},
        assignee="halkla.iliskiler",
    )
    wait_status(tracking, "kapatildi")
    history_before = [e["text"] for e in api.get(f"/requests/{tracking}").json()["history"]]
    _age(app_container, wait_status(tracking, "kapatildi")["id"])

    job = _start_by_hand()
    wait_for_state(engine, job, "COMPLETED")
    assert "elle-baslatildi" in engine.activity_ids(job)
    count = poll(lambda: _variable(engine, job, "anonymisedCount"), what="the anonymised count")
    assert int(count) >= 1

    # What the citizen sees: the same status and history, and one line more.
    status = api.get(f"/requests/{tracking}")
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "kapatildi"
    assert [e["text"] for e in status.json()["history"]] == [*history_before, PUBLIC_LINE]
    # What is stored: no name, address, e-mail or phone, and no reply in the citizen's words.
    row = wait_status(tracking, "kapatildi")
    contact = _contact(app_container, row["id"])
    assert (contact.full_name, contact.phone, contact.email, contact.address) == (
        ANONYMISED,
        None,
        None,
        None,
    )
    with app_container.uow() as uow:
        assert not list(uow.session.scalars(select(Notification).where(Notification.recipient == email)))
        replies = list(
            uow.session.scalars(select(CitizenReply.text).where(CitizenReply.request_id == row["id"]))
        )
    assert replies == [ANONYMISED]
    # The instance carries a number only.
    variables = _variables(engine, job)
    assert variables, "the job's instance recorded no variables"
    assert not [v for v in variables if re.search(r"@|Ayşe|\+90", str(v["value"]))]


def _engine_utc_offset(engine: Operaton) -> timedelta:
    """The engine's time zone (its cron reads the wall clock there), from a date it wrote."""
    (latest,) = engine.json(
        "GET", "/deployment", params={"sortBy": "deploymentTime", "sortOrder": "desc", "maxResults": 1}
    )
    offset = datetime.strptime(latest["deploymentTime"], "%Y-%m-%dT%H:%M:%S.%f%z").utcoffset()
    assert offset is not None
    return offset


def test_the_timer_start_runs_the_same_job(engine: Operaton, tmp_path: Path) -> None:
    """A process owner's trial: the nightly cron set to a moment a few seconds after deploying."""
    since = datetime.now(UTC)
    offset = _engine_utc_offset(engine)

    def fire_soon(xml: str) -> str:
        at = datetime.now(UTC) + offset + timedelta(seconds=8)
        return xml.replace(NIGHTLY_CRON, f"<bpmn:timeCycle>{at:%S %M %H} * * ?</bpmn:timeCycle>")

    def started_by_the_timer() -> str | None:
        for instance in engine.instances(
            processDefinitionKey=PROCESS,
            startedAfter=since.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            completed="true",
        ):
            if "her-gece" in engine.activity_ids(instance["id"]):
                return str(instance["id"])
        return None

    with edited(f"{PROCESS}.bpmn", fire_soon, tmp_path / "bpmn"):
        trial = engine.latest_definition(PROCESS)["id"]

        def started_while_the_trial_is_deployed() -> str | None:
            found = started_by_the_timer()
            assert found or engine.latest_definition(PROCESS)["id"] == trial, (
                "another deployment replaced the trial diagram before its timer fired"
            )
            return found

        # The job executor picks a due timer up within its idle back-off (up to a minute).
        instance = poll(
            started_while_the_trial_is_deployed, what="an instance started by the timer", timeout=120, every=2
        )
    assert _variable(engine, instance, "anonymisedCount") is not None
