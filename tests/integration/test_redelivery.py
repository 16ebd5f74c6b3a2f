"""The engine delivers external tasks at least once: the same task handled twice leaves one trace.

The first test makes the engine deliver one task twice for real, on the running stack; the
others call the services twice with the same activity instance id, as a redelivery does.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from deploy.local import processes, stack
from deploy.local.mailbox import read_mailbox
from services import catalogue
from services import citizen_requests as requests
from services.bootstrap import Container
from services.models import RequestEvent
from services.operaton import ExternalTasks, Operaton
from tests.integration.citizen import complete, events, instance_of, mails, submit, wait_status
from tests.integration.tasklist import poll, wait_for_task
from workers import task_types
from workers.main import routers
from workers.runtime import ExternalTask

DYING_WORKER = "kesilen-isci"  # takes the task, does its work, dies before completing it
STAND_IN_WORKER = "yedek-isci"  # does one step properly while our workers are stopped
LOCK_MS = 3000


def _free(engine: Operaton, instance: str, activity_id: str) -> None:
    """Wait for the step's external task; if the stopped workers hold it, hand it back.

    The engine keeps a long poll open after the worker that sent it has gone, and may still lock
    a task for it (up to `WORKER_POLL_SECONDS` after the stop); such a task would wait out the
    lock. Handing it back is what an administrator does in Cockpit."""
    task = poll(
        lambda: next(
            iter(
                engine.json(
                    "GET", "/external-task", params={"processInstanceId": instance, "activityId": activity_id}
                )
            ),
            None,
        ),
        what=f"the external task of {activity_id}",
    )
    if task["workerId"] and task["workerId"] not in (DYING_WORKER, STAND_IN_WORKER):
        engine.call("POST", f"/external-task/{task['id']}/unlock")


async def _take_and_handle(
    container: Container, worker_id: str, topic: str, business_key: str, *, complete_it: bool
) -> ExternalTask | None:
    """Fetch-and-lock this instance's task of this topic as worker `worker_id` and run our
    workers' own handler for it (the variables validated as they do); complete it only if told."""
    (subscription,) = [s for r in routers(container) for s in r.subscriptions if s.topic == topic]
    settings = container.settings
    client = ExternalTasks(
        settings.engine_rest_url,
        settings.engine_username,
        settings.engine_password,
        worker_id=worker_id,
        poll_timeout_ms=5_000,
    )
    try:
        rows = await client.fetch_and_lock(
            [
                {
                    "topicName": topic,
                    "lockDuration": LOCK_MS,
                    "variables": subscription.variable_names,
                    "businessKey": business_key,
                }
            ],
            max_tasks=1,
        )
        if not rows:
            return None
        task = ExternalTask.from_engine(rows[0])
        result = await subscription.handler(task, subscription.model.model_validate(dict(task.variables)))
        if complete_it:
            await client.complete(task.id, result)
        return task
    finally:
        await client.close()


def _take(
    engine: Operaton,
    container: Container,
    worker_id: str,
    activity_id: str,
    topic: str,
    instance: str,
    business_key: str,
    *,
    complete_it: bool,
) -> ExternalTask:
    """`_take_and_handle` once the task is free (the stopped workers' last poll may race us)."""
    for _ in range(3):
        _free(engine, instance, activity_id)
        task = asyncio.run(
            _take_and_handle(container, worker_id, topic, business_key, complete_it=complete_it)
        )
        if task is not None:
            return task
    raise AssertionError(f"could not take the {activity_id} task of instance {instance}")


def _success_log(engine: Operaton, external_task_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = engine.json(
        "GET", "/history/external-task-log", params={"externalTaskId": external_task_id, "successLog": "true"}
    )
    return found


def test_a_task_delivered_again_after_its_worker_died_mails_the_citizen_once(
    api: httpx.Client, engine: Operaton, app_container: Container, mailbox_dir: Path
) -> None:
    """A real second delivery of "Vatandaşa yanıt ver" by the engine.

    Our workers process is stopped, so nothing else fetches the instance's tasks. After Public
    Relations close the request in Tasklist, a stand-in worker does "Kapatma kararını kaydet"
    properly; then a worker that is about to die fetch-and-locks "Vatandaşa yanıt ver" with a
    3 s lock and runs our handler for it, so the citizen's answer mail goes out and the answer is
    recorded, and never completes it, as a worker killed right after its effect would. Once the
    lock has expired our workers are started again: the engine hands the same external task (the
    same activity instance) to them, their handler runs a second time, and they complete it.
    The citizen got one mail, the request one answer record, and the engine's log shows the task
    completed by our workers, not by the one that died."""
    tracking, body = submit(api)
    instance = instance_of(tracking)
    request_id = str(wait_status(tracking, "mudurlukte")["id"])
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Çukur kapatıldı."},
        assignee="yol.personel",
    )
    wait_for_task(engine, instance, "kapatma-kontrolu")
    citizen = body["citizen"]["email"]

    layout = stack.Layout.from_env()
    assert processes.stop(layout.dirs, "workers", timeout=60), "the test needs the running workers"
    try:
        complete(
            engine,
            instance,
            "kapatma-kontrolu",
            {"closureDecision": "uygun", "closureNote": ""},
            assignee="halkla.iliskiler",
        )
        _take(
            engine,
            app_container,
            STAND_IN_WORKER,
            "kapatma-kaydet",
            task_types.RECORD_STEP,
            instance,
            request_id,
            complete_it=True,
        )
        first = _take(
            engine,
            app_container,
            DYING_WORKER,
            "vatandasa-yanit",
            task_types.ANSWER_CITIZEN,
            instance,
            request_id,
            complete_it=False,
        )
        locked = engine.json("GET", f"/external-task/{first.id}")
        assert locked["workerId"] == DYING_WORKER
        assert (
            len(mails(mailbox_dir, to=citizen, containing="sonuçlandı")) == 1
        )  # the first delivery's effect
        # The dead worker's lock runs out while our workers are down (started on an expired lock,
        # their first fetch gets the task; a long poll already waiting is not woken by an expiry).
        poll(
            lambda: (
                True
                if not engine.json(
                    "GET", "/external-task", params={"processInstanceId": instance, "locked": "true"}
                )
                else None
            ),
            what="the dead worker's lock to expire",
            timeout=LOCK_MS / 1000 + 30,
        )
    finally:
        stack.start_workers(layout)

    poll(
        lambda: (
            engine.json(
                "GET", "/job", params={"processInstanceId": instance, "activityId": "itiraz-suresi-doldu"}
            )
            or None
        ),
        what="the answered request to wait out its objection period",
        timeout=90,
    )
    (success,) = _success_log(engine, first.id)
    assert success["workerId"].startswith("kalite-workers@"), success
    assert success["activityInstanceId"] == first.activity_instance_id
    assert len(mails(mailbox_dir, to=citizen, containing="sonuçlandı")) == 1
    answered = [e for e in events(tracking) if e["event"] == "yanitlandi"]
    assert len(answered) == 1 and answered[0]["details"]["answer"] == "olumlu"
    assert set(answered[0]["details"]) == {"answer", "objectionDeadline"}
    assert wait_status(tracking, "kapatildi")["answer"] == "olumlu"
    assert api.get(f"/requests/{tracking}").json()["status"] == "kapatildi"


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
            process_instance_id="1",
            activity_instance_id="4242",
        )
        await requests.notify_directorate(
            container.uow,
            container.mailer,
            request_id=request_id,
            activity_instance_id="4243",
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
        process_instance_id="1",
        activity_instance_id="1",
    )
    counts = [
        await requests.escalate_overdue(
            container.uow,
            container.mailer,
            request_id=request_id,
            activity_instance_id=key,
            tasklist_url="http://tasklist",
        )
        for key in ("10", "10", "11")
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
