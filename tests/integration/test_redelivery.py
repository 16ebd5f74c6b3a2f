"""Zeebe delivers jobs at least once: the same job handled twice leaves one trace."""

import uuid
from pathlib import Path

from sqlalchemy import func, select

from services import catalogue
from services import citizen_requests as requests
from services.bootstrap import Container
from deploy.local.mailbox import read_mailbox
from services.models import RequestEvent


def _submitted(container: Container) -> uuid.UUID:
    catalogue.load_seed_if_empty(container.uow)
    request, created = requests.submit(
        container.uow,
        requests.Intake(
            channel="cagri-merkezi",
            channel_reference=f"ALO185-{uuid.uuid4()}",
            request_type="istek",
            category_code="TEMIZLIK-COP",
            description="Çöpler üç gündür toplanmadı, Çamlıbel.",
            latitude=None,
            longitude=None,
            contact=requests.Contact(
                full_name="Mehmet Işık",
                phone="+905321234567",
                email="m@x.local",
                address="Çamlıbel Mah.",
                preferred_channel="eposta",
            ),
        ),
    )
    assert created
    return request.id


def _events(container: Container, request_id: uuid.UUID, event: str) -> int:
    with container.uow() as uow:
        return (
            uow.session.scalar(
                select(func.count())
                .select_from(RequestEvent)
                .where(RequestEvent.request_id == request_id, RequestEvent.event == event)
            )
            or 0
        )


async def test_routing_and_notifying_twice_records_once_and_mails_once(
    container: Container, smtp_mailbox: tuple[int, Path]
) -> None:
    request_id = _submitted(container)
    for _ in range(2):
        routing = requests.route(
            container.uow,
            request_id=request_id,
            category_code="TEMIZLIK-COP",
            process_instance_id=1,
            activity_instance_id=4242,
        )
        await requests.notify_directorate(
            container.uow,
            container.mailer,
            request_id=request_id,
            activity_instance_id=4243,
            tasklist_url="http://tasklist",
        )
    assert routing.directorate_code == "TEMIZLIK"
    assert _events(container, request_id, "yonlendirildi") == 1
    assert _events(container, request_id, "mudurluge-bildirildi") == 1
    assert len(read_mailbox(smtp_mailbox[1])) == 1


async def test_each_overdue_timer_firing_is_a_new_notice_but_a_redelivery_is_not(
    container: Container, smtp_mailbox: tuple[int, Path]
) -> None:
    request_id = _submitted(container)
    requests.route(
        container.uow,
        request_id=request_id,
        category_code="TEMIZLIK-COP",
        process_instance_id=1,
        activity_instance_id=1,
    )
    counts = [
        await requests.escalate_overdue(
            container.uow,
            container.mailer,
            request_id=request_id,
            activity_instance_id=key,
            tasklist_url="http://tasklist",
        )
        for key in (10, 10, 11)
    ]
    assert counts == [1, 1, 2]
    assert len(read_mailbox(smtp_mailbox[1])) == 2


def test_the_same_channel_reference_is_one_request(container: Container) -> None:
    catalogue.load_seed_if_empty(container.uow)
    intake = requests.Intake(
        channel="web",
        channel_reference=f"WEB-{uuid.uuid4()}",
        request_type="oneri",
        category_code=None,
        description="Parka bisiklet yolu yapılsın.",
        latitude=36.8,
        longitude=34.6,
        contact=requests.Contact(
            full_name="Zeynep Çelik", phone=None, email="z@x.local", address=None, preferred_channel="eposta"
        ),
    )
    first, created_first = requests.submit(container.uow, intake)
    second, created_second = requests.submit(container.uow, intake)
    assert (created_first, created_second) == (True, False)
    assert first.id == second.id
