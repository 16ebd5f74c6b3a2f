"""Delivery receipts: what the SMS centre says became of each part, recorded on the notification.

A receipt is a deliver_sm with esm_class "SMSC delivery receipt"; its facts are in the optional
parameters receipted_message_id and message_state when the centre sends them (SMPP 3.4 5.3.2),
and in the text of SMPP 3.4 Appendix B ("id:… sub:… dlvrd:… submit date:… done date:… stat:…
err:…") always.

Every receipt is kept in `sms_receipts` by the part's id before the notification is looked up: a
centre may answer faster than we store the ids it gave us. The notification is settled from the
receipts of its parts both after a receipt arrives and after its ids are stored, each in a
transaction of its own after the other's commit, so one of the two always sees both.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.db import UnitOfWorkFactory
from services.models import Notification, SmsReceipt

log = logging.getLogger(__name__)

DELIVERY_RECEIPT = 0x04  # esm_class message type bits (2-5): SMSC delivery receipt
# message_state values (SMPP 3.4 5.2.28) as the receipt text names them.
STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
DELIVERED = "DELIVRD"
IN_PROGRESS = frozenset({"ENROUTE", "ACCEPTD"})
# The receipt's dates carry no zone; Turkish operators' SMS centres (and ours) write local time.
SMSC_TIME = ZoneInfo("Europe/Istanbul")
_FIELD = re.compile(r"(id|stat|err|done date):(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class DeliveryReceipt:
    smsc_message_id: str
    status: str
    error: str | None
    done_at: datetime | None


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    text = value.decode("ascii", errors="replace") if isinstance(value, bytes) else value
    return text.rstrip("\0") or None


def _smsc_time(value: str | None) -> datetime | None:
    """YYMMDDhhmm, or YYMMDDhhmmss as some centres write it."""
    if value is None or not value.isdigit() or len(value) not in (10, 12):
        return None
    try:
        moment = datetime.strptime(value, "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M")
    except ValueError:
        return None
    return moment.replace(tzinfo=SMSC_TIME).astimezone(UTC)


def parse_receipt(
    *,
    esm_class: int,
    short_message: bytes,
    receipted_message_id: bytes | str | None,
    message_state: int | None,
) -> DeliveryReceipt | None:
    """The receipt a deliver_sm carries, or None for anything else (an SMS from a phone)."""
    if esm_class & 0x3C != DELIVERY_RECEIPT:
        return None
    fields = {k.lower(): v for k, v in _FIELD.findall(short_message.decode("ascii", errors="replace"))}
    smsc_message_id = _text(receipted_message_id) or fields.get("id")
    status = STATES.get(message_state or 0) or fields.get("stat", "").upper() or None
    if smsc_message_id is None or status is None:
        log.warning("a delivery receipt without message id or state was ignored")
        return None
    return DeliveryReceipt(smsc_message_id, status, fields.get("err"), _smsc_time(fields.get("done date")))


async def record_receipt(uow_factory: UnitOfWorkFactory, receipt: DeliveryReceipt) -> None:
    """Keep the receipt, then settle the notification it belongs to (if we know it yet)."""
    await asyncio.to_thread(_record, uow_factory, receipt)


def _record(uow_factory: UnitOfWorkFactory, receipt: DeliveryReceipt) -> None:
    with uow_factory() as uow:
        values = {"status": receipt.status, "error": receipt.error, "done_at": receipt.done_at}
        uow.session.execute(
            insert(SmsReceipt)
            .values(smsc_message_id=receipt.smsc_message_id, **values)
            .on_conflict_do_update(index_elements=[SmsReceipt.smsc_message_id], set_=values)
        )
        uow.commit()
    with uow_factory() as uow:
        notification = uow.session.scalar(
            select(Notification)
            # @> (contains): the GIN index finds it.
            .where(Notification.smsc_message_ids.contains([receipt.smsc_message_id]))
            .with_for_update()
        )
        if notification is None:
            log.info(
                "receipt %s for %s kept: no notification names it yet",
                receipt.status,
                receipt.smsc_message_id,
            )
            return
        _settle(uow.session, notification)
        uow.commit()
        log.info(
            "receipt %s for %s: notification %s now %s",
            receipt.status,
            receipt.smsc_message_id,
            notification.idempotency_key,
            notification.delivery_status or "awaiting its other parts",
        )


def settle_notification(uow_factory: UnitOfWorkFactory, idempotency_key: str) -> None:
    """After the ids are stored: apply receipts that came first."""
    with uow_factory() as uow:
        notification = uow.session.scalar(
            select(Notification).where(Notification.idempotency_key == idempotency_key).with_for_update()
        )
        if notification is not None and notification.smsc_message_ids:
            _settle(uow.session, notification)
            uow.commit()


def _settle(session: Session, notification: Notification) -> None:
    ids = notification.smsc_message_ids or []
    receipts = {
        r.smsc_message_id: r
        for r in session.scalars(select(SmsReceipt).where(SmsReceipt.smsc_message_id.in_(ids)))
    }
    settled = [receipts[i].status for i in ids if i in receipts]
    final_failures = [status for status in settled if status not in IN_PROGRESS and status != DELIVERED]
    if final_failures:
        notification.delivery_status, notification.delivered_at = final_failures[0], None
    elif ids and all(i in receipts and receipts[i].status == DELIVERED for i in ids):
        notification.delivery_status = DELIVERED
        notification.delivered_at = max(receipts[i].done_at or receipts[i].received_at for i in ids)
    elif receipts:
        notification.delivery_status, notification.delivered_at = "ENROUTE", None
