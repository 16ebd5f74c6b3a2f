"""Helpers that act like the channels, the staff in Tasklist and a person reading the mailbox."""

from __future__ import annotations

import re
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from deploy.local.smsc import read_smsc
from services.config import get_settings
from services.operaton import Operaton
from tests.integration.tasklist import complete, poll, wait_for_state

__all__ = [
    "TURKISH_DESCRIPTION",
    "body_of",
    "complete",
    "end_objection_period",
    "events",
    "fire_timer",
    "instance_of",
    "mails",
    "normalise_phone",
    "payload",
    "request_row",
    "sms_delivery",
    "sms_messages",
    "submit",
    "wait_mail",
    "wait_status",
]

TURKISH_DESCRIPTION = (
    "Gazi Mahallesi Şehit İlhan Sokak'ta büyük bir çukur var; araçlar ığdır yönüne dönerken zorlanıyor."
)


def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "web",
        "channelReference": f"WEB-{uuid.uuid4()}",
        "type": "sikayet",
        "categoryCode": "YOL-CUKUR",
        "description": TURKISH_DESCRIPTION,
        "location": {
            "address": "Gazi Mah. Şehit İlhan Sk. No:4, Yenişehir/Mersin",
            "latitude": 36.7841,
            "longitude": 34.6015,
        },
        "citizen": {
            "fullName": "Ayşe Yıldırım Öztürk",
            "phone": "0532 123 45 67",
            "email": f"ayse.{uuid.uuid4().hex[:8]}@vatandas.local",
        },
        "preferredAnswerChannel": "eposta",
    }
    body.update(overrides)
    return body


def submit(api: httpx.Client, **overrides: Any) -> tuple[str, dict[str, Any]]:
    body = payload(**overrides)
    response = api.post("/requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()["trackingNumber"], body


def request_row(tracking: str) -> dict[str, Any] | None:
    engine = create_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            row = (
                connection.execute(
                    text("SELECT * FROM citizen_requests WHERE tracking_code = :t"), {"t": tracking}
                )
                .mappings()
                .first()
            )
            return dict(row) if row else None
    finally:
        engine.dispose()


def sms_delivery(smsc_message_ids: list[str]) -> dict[str, Any] | None:
    """The notification row that sent these SMS parts: its delivery status and time."""
    engine = create_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            row = (
                connection.execute(
                    text(
                        "SELECT smsc_message_ids, delivery_status, delivered_at FROM notifications "
                        "WHERE smsc_message_ids = CAST(:ids AS varchar[])"
                    ),
                    {"ids": smsc_message_ids},
                )
                .mappings()
                .first()
            )
            return dict(row) if row else None
    finally:
        engine.dispose()


def events(tracking: str) -> list[dict[str, Any]]:
    engine = create_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            rows = (
                connection.execute(
                    text(
                        "SELECT e.* FROM request_events e JOIN citizen_requests r ON r.id = e.request_id "
                        "WHERE r.tracking_code = :t ORDER BY e.at"
                    ),
                    {"t": tracking},
                )
                .mappings()
                .all()
            )
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def instance_of(tracking: str, timeout: float = 60) -> str:
    """The id of the request's process instance, once the outbox has started it."""
    row = poll(
        lambda: r if (r := request_row(tracking)) and r["process_instance_id"] else None,
        what=f"the process instance of {tracking}",
        timeout=timeout,
    )
    return str(row["process_instance_id"])


def wait_status(tracking: str, status: str, timeout: float = 60) -> dict[str, Any]:
    return poll(
        lambda: r if (r := request_row(tracking)) and r["status"] == status else None,
        what=f"{tracking} in status {status}",
        timeout=timeout,
    )


def mails(mailbox: Path, *, to: str | None = None, containing: str | None = None) -> list[EmailMessage]:
    found = []
    parser = BytesParser(policy=policy.default)
    for path in sorted(mailbox.glob("*.eml")):
        message = parser.parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        content = body.get_content() if body is not None else ""
        if to is not None and message["To"] != to:
            continue
        if containing is not None and containing not in content and containing not in str(message["Subject"]):
            continue
        found.append(message)
    return found


def wait_mail(
    mailbox: Path,
    *,
    to: str | None = None,
    containing: str | None = None,
    count: int = 1,
    timeout: float = 60,
) -> list[EmailMessage]:
    return poll(
        lambda: m if len(m := mails(mailbox, to=to, containing=containing)) >= count else None,
        what=f"{count} mail(s) to {to} containing {containing!r}",
        timeout=timeout,
    )


def body_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    content: str = body.get_content()
    return content


def sms_messages(smsc_dir: Path, phone: str) -> list[dict[str, Any]]:
    """What the stack's SMS centre received for this phone (+90…), joined from its parts."""
    number = re.sub(r"\D", "", phone)
    return [m for m in read_smsc(smsc_dir) if m["destination"] == number]


def normalise_phone(phone: str) -> str:
    return "+90" + re.sub(r"\D", "", phone)[-10:]


def fire_timer(engine: Operaton, instance: str, activity: str) -> None:
    """What the job executor does when the timer's time comes, done now (as Cockpit's "execute")."""
    jobs = poll(
        lambda: (
            engine.json("GET", "/job", params={"processInstanceId": instance, "activityId": activity}) or None
        ),
        what=f"the timer job of {activity}",
    )
    engine.call("POST", f"/job/{jobs[0]['id']}/execute")


def end_objection_period(engine: Operaton, instance: str) -> dict[str, Any]:
    """An answered request waits out its objection period (15 days); let it pass and the
    instance end as "Talep kapatıldı"."""
    fire_timer(engine, instance, "itiraz-suresi-doldu")
    state = wait_for_state(engine, instance, "COMPLETED")
    assert "talep-kapatildi" in engine.activity_ids(instance)
    return state
