"""SMS over real SMPP 3.4 to our SMS centre on a free port: Turkish text joined byte for byte from
its UCS-2 parts, plain text in one GSM part, delivery receipts on the notification, one SMS per
idempotency key, a refused login and a centre that is down raising what the worker retries."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from deploy.local.smsc import SmscController, read_smsc, start_smsc
from services import sms_text
from services.bootstrap import Container
from services.config import Settings
from services.models import Notification
from services.notifications import deliver_once, send_sms_once
from services.sms import SmppSmsSender, SmsCentreLoginRefused, SmsCentreUnavailable
from services.sms_receipts import DeliveryReceipt, parse_receipt, record_receipt
from tests.unit.conftest import free_port
from workers.failures import SMS_CENTRE_LOGIN_REFUSED, SMS_CENTRE_UNREACHABLE, failure_message

PHONE = "+905321234567"
LONG_TURKISH = (
    "Sayın Çiğdem Işıkgöz, İŞ-2026-000123 numaralı talebiniz Fen İşleri Müdürlüğü'ne iletildi; "
    "yanıt en geç 12.12.2026 tarihinde verilecektir. Şikâyetiniz için teşekkür ederiz: ığüşöçİĞÜŞÖÇ."
)


def _store(smsc: SmscController) -> Path:
    return smsc.centre.directory


def _row(container: Container, key: str) -> Notification:
    with container.uow() as uow:
        row = uow.session.scalar(select(Notification).where(Notification.idempotency_key == key))
        assert row is not None
        uow.session.expunge(row)  # as loaded, past the unit of work's rollback
        return row


# ---------------------------------------------------------------- parts and alphabets


def test_ucs2_fits_70_characters_in_one_sms_and_67_in_each_part() -> None:
    assert len(sms_text.split("ş" * 70, reference=1).payloads) == 1
    parts = sms_text.split("ş" * 71, reference=7)
    assert (parts.data_coding, parts.esm_class, len(parts.payloads)) == (sms_text.UCS2, sms_text.UDHI, 2)
    first, second = parts.payloads
    # user data header: concatenation, 8-bit reference 7, 2 parts, this one's number
    assert (first[:6], second[:6]) == (bytes([5, 0, 3, 7, 2, 1]), bytes([5, 0, 3, 7, 2, 2]))
    assert (len(first) - 6, len(second) - 6) == (67 * 2, 4 * 2)


def test_plain_text_fits_160_characters_in_one_sms_and_153_in_each_part() -> None:
    single = sms_text.split("a" * 160, reference=1)
    assert (single.data_coding, single.esm_class, len(single.payloads)) == (sms_text.GSM7, 0, 1)
    parts = sms_text.split("a" * 161, reference=1)
    assert [len(p) - 6 for p in parts.payloads] == [153, 8]


def test_a_part_never_ends_in_half_a_character() -> None:
    gsm = sms_text.split("a" * 152 + "€" + "b" * 10, reference=1)  # € is an escape pair in GSM
    assert gsm.payloads[0][6:] == b"a" * 152 and gsm.payloads[1][6:8] == b"\x1be"
    emoji = sms_text.split("ş" * 66 + "🙂" + "ş" * 3, reference=1)  # a surrogate pair in UTF-16
    assert [p[6:].decode("utf-16-be") for p in emoji.payloads] == ["ş" * 66, "🙂şşş"]


def test_every_turkish_letter_makes_the_text_ucs2() -> None:
    for letter in "çÇğĞıİöÖşŞüÜ":
        assert sms_text.data_coding_for(f"Talep {letter}") == sms_text.UCS2
    assert sms_text.data_coding_for("Talep BLD-2026-000123 alindi [x] €") == sms_text.GSM7


# ---------------------------------------------------------------- over SMPP


async def test_a_long_turkish_text_arrives_joined_byte_for_byte_as_ucs2(
    container: Container, smsc: SmscController
) -> None:
    assert len(LONG_TURKISH) > 140

    ids = await container.sms.send(PHONE, LONG_TURKISH, message_id="<uzun@belediye.local>")

    (stored,) = read_smsc(_store(smsc))
    assert stored["text"] == LONG_TURKISH
    assert bytes.fromhex(stored["payloadHex"]) == LONG_TURKISH.encode("utf-16-be")
    assert (stored["dataCoding"], stored["esmClass"]) == (8, 0x40)
    assert stored["parts"] == len(ids) == -(-len(LONG_TURKISH) // 67)
    assert stored["messageIds"] == ids and len(set(ids)) == len(ids)
    assert (stored["destination"], stored["destinationTon"]) == ("905321234567", 1)
    assert (stored["source"], stored["sourceTon"]) == ("BELEDIYE", 5)
    assert stored["registeredDelivery"] == 1


async def test_an_ascii_text_goes_as_one_gsm_part(container: Container, smsc: SmscController) -> None:
    text = "Talebiniz alindi: BLD-2026-000123. Takip: belediye.local/takip"

    (smsc_id,) = await container.sms.send(PHONE, text, message_id="<kisa@belediye.local>")

    (stored,) = read_smsc(_store(smsc))
    assert (stored["text"], stored["parts"], stored["dataCoding"], stored["esmClass"]) == (text, 1, 0, 0)
    assert stored["messageIds"] == [smsc_id]


async def test_the_same_key_sends_one_sms(container: Container, smsc: SmscController) -> None:
    key = f"test:{uuid.uuid4()}"

    first = await send_sms_once(
        container.uow, container.sms, idempotency_key=key, phone=PHONE, subject="Tek", text=LONG_TURKISH
    )
    second = await send_sms_once(
        container.uow, container.sms, idempotency_key=key, phone=PHONE, subject="Tek", text=LONG_TURKISH
    )

    assert (first, second) == (True, False)
    (stored,) = read_smsc(_store(smsc))
    row = _row(container, key)
    assert row.sent_at is not None and row.smsc_message_ids == stored["messageIds"]


async def test_delivery_receipts_are_recorded_on_the_notification(
    container: Container, smsc: SmscController
) -> None:
    key = f"test:{uuid.uuid4()}"
    sent, stop, all_recorded = asyncio.Event(), asyncio.Event(), asyncio.Event()
    parts = len(sms_text.split(LONG_TURKISH, reference=0).payloads)
    recorded: list[DeliveryReceipt] = []

    async def on_receipt(receipt: DeliveryReceipt) -> None:
        await sent.wait()  # the test's one database connection: one thread at a time
        await record_receipt(container.uow, receipt)
        recorded.append(receipt)
        if len(recorded) == parts:
            all_recorded.set()

    sender = SmppSmsSender(container.settings)
    listening = asyncio.create_task(sender.receive_receipts(on_receipt, stop=stop))
    try:
        assert await send_sms_once(
            container.uow, sender, idempotency_key=key, phone=PHONE, subject="Alındı", text=LONG_TURKISH
        )
        sent.set()
        (stored,) = read_smsc(_store(smsc))
        assert stored["parts"] == parts > 1
        await asyncio.wait_for(all_recorded.wait(), 10)
    finally:
        stop.set()
        await listening

    assert sorted(r.smsc_message_id for r in recorded) == sorted(stored["messageIds"])
    row = _row(container, key)
    assert row.smsc_message_ids == stored["messageIds"]
    assert row.delivery_status == "DELIVRD"
    assert row.delivered_at is not None and abs(row.delivered_at - datetime.now(UTC)).total_seconds() < 120


async def test_an_undeliverable_part_marks_the_notification_undelivered(
    container: Container, smsc: SmscController
) -> None:
    smsc.centre.undeliverable = frozenset({"905559998877"})
    key = f"test:{uuid.uuid4()}"
    sent, stop, recorded = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def on_receipt(receipt: DeliveryReceipt) -> None:
        await sent.wait()
        await record_receipt(container.uow, receipt)
        recorded.set()

    sender = SmppSmsSender(container.settings)
    listening = asyncio.create_task(sender.receive_receipts(on_receipt, stop=stop))
    try:
        await send_sms_once(
            container.uow, sender, idempotency_key=key, phone="+905559998877", subject="-", text="Deneme"
        )
        sent.set()
        await asyncio.wait_for(recorded.wait(), 10)
    finally:
        stop.set()
        await listening

    row = _row(container, key)
    assert (row.delivery_status, row.delivered_at) == ("UNDELIV", None)


async def test_a_receipt_that_comes_before_the_ids_are_stored_still_settles_the_notification(
    container: Container,
) -> None:
    key, smsc_ids = f"test:{uuid.uuid4()}", [uuid.uuid4().hex, uuid.uuid4().hex]
    done = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    for smsc_id in smsc_ids:
        await record_receipt(container.uow, DeliveryReceipt(smsc_id, "DELIVRD", "000", done))

    async def deliver(message_id: str) -> list[str]:
        return smsc_ids

    sent = await deliver_once(
        container.uow, idempotency_key=key, recipient=PHONE, subject="-", deliver=deliver
    )
    assert sent
    row = _row(container, key)
    assert (row.delivery_status, row.delivered_at) == ("DELIVRD", done)


def test_a_receipt_is_read_from_its_text_when_it_carries_no_optional_parameters() -> None:
    receipt = parse_receipt(
        esm_class=0x04,
        short_message=b"id:7F3A9 sub:001 dlvrd:001 submit date:2612011158 done date:2612011201 "
        b"stat:DELIVRD err:000 text:Sayin",
        receipted_message_id=None,
        message_state=None,
    )
    # Dates without a zone are the operator's local time (Europe/Istanbul, UTC+3).
    assert receipt == DeliveryReceipt("7F3A9", "DELIVRD", "000", datetime(2026, 12, 1, 9, 1, tzinfo=UTC))
    mobile_originated = parse_receipt(
        esm_class=0x00, short_message=b"id:1 stat:DELIVRD", receipted_message_id=None, message_state=None
    )
    assert mobile_originated is None


async def test_no_phone_number_or_text_reaches_the_logs(
    container: Container, smsc: SmscController, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await container.sms.send(PHONE, LONG_TURKISH, message_id="<log@belediye.local>")
    assert "5321234567" not in caplog.text and "Çiğdem" not in caplog.text
    assert "<log@belediye.local>" in caplog.text  # ids only


# ---------------------------------------------------------------- failures


async def test_a_wrong_password_is_refused_with_a_clear_error(
    settings: Settings, smsc: SmscController
) -> None:
    sender = SmppSmsSender(settings.model_copy(update={"smpp_password": SecretStr("yanlis12")}))

    with pytest.raises(SmsCentreLoginRefused, match=r"ESME_RINVPASWD.*SMPP_PASSWORD") as refused:
        await sender.send(PHONE, "Deneme", message_id="<sifre@belediye.local>")

    assert read_smsc(_store(smsc)) == []
    assert failure_message(refused.value).startswith(SMS_CENTRE_LOGIN_REFUSED)


async def test_a_centre_that_is_down_raises_what_the_worker_retries(
    container: Container, tmp_path: Path
) -> None:
    key = f"test:{uuid.uuid4()}"
    port = free_port()  # nothing listens there yet
    settings = container.settings.model_copy(update={"smpp_port": port})

    unreachable = SmppSmsSender(settings)
    with pytest.raises(SmsCentreUnavailable) as down:
        await send_sms_once(
            container.uow, unreachable, idempotency_key=key, phone=PHONE, subject="-", text="-"
        )
    assert _row(container, key).sent_at is None
    assert failure_message(down.value).startswith(SMS_CENTRE_UNREACHABLE)

    # The retry, once the centre runs: sent then, once.
    centre = start_smsc(
        tmp_path / "smsc-back",
        "127.0.0.1",
        port,
        system_id=settings.smpp_system_id,
        password=settings.smpp_password.get_secret_value(),
    )
    try:
        sender = SmppSmsSender(settings)
        assert await send_sms_once(
            container.uow, sender, idempotency_key=key, phone=PHONE, subject="-", text="-"
        )
        assert len(read_smsc(tmp_path / "smsc-back")) == 1
        # A centre that goes away under a bound session: the next send raises, it does not hang.
        centre.stop()
        with pytest.raises(SmsCentreUnavailable):
            async with asyncio.timeout(settings.smpp_connect_timeout_seconds + 5):
                await sender.send(PHONE, "Deneme", message_id="<dusen@belediye.local>")
        sender.close()
    finally:
        if centre._thread.is_alive():
            centre.stop()


async def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_the_receipt_session_binds_again_after_the_centre_comes_back(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    settings = settings.model_copy(update={"smpp_port": port, "smpp_reconnect_seconds": 0.1})
    credentials = {
        "system_id": settings.smpp_system_id,
        "password": settings.smpp_password.get_secret_value(),
    }
    centre = start_smsc(tmp_path / "once", "127.0.0.1", port, **credentials)
    receipts: list[DeliveryReceipt] = []
    got, stop = asyncio.Event(), asyncio.Event()

    async def on_receipt(receipt: DeliveryReceipt) -> None:
        receipts.append(receipt)
        got.set()

    def transceivers(controller: SmscController) -> int:
        return sum(s.bind == "TRX" for s in list(controller.centre._sessions))

    sender = SmppSmsSender(settings)
    listening = asyncio.create_task(sender.receive_receipts(on_receipt, stop=stop))
    try:
        await _until(lambda: transceivers(centre) == 1)
        centre.stop()
        await asyncio.sleep(0.3)  # a few failed binds while it is away
        centre = start_smsc(tmp_path / "again", "127.0.0.1", port, **credentials)
        await _until(lambda: transceivers(centre) == 1)

        (smsc_id,) = await sender.send(PHONE, "Yeniden bağlandı", message_id="<geri@belediye.local>")
        await asyncio.wait_for(got.wait(), 10)
    finally:
        stop.set()
        await listening
        centre.stop()

    assert [(r.smsc_message_id, r.status) for r in receipts] == [(smsc_id, "DELIVRD")]
