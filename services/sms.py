"""SMS over SMPP 3.4, the protocol of operators' SMS centres (smpplib).

`SmppSmsSender.send` submits a text (split and encoded by `services.sms_text`) and returns the
SMS centre's message id of each part; delivery receipts are asked for every part. Receipts come
back as deliver_sm on a bound receiver, so the workers keep one transceiver bound for as long as
they run (`receive_receipts`, binding again after a drop) and send on it too; elsewhere (API,
tools, tests) a transmitter is bound on first use. Everything the SMS centre refuses, and a
centre that cannot be reached, raises an `SmsError`: the worker runtime retries the task.

smpplib is synchronous: each bound session has one thread that reads its socket (answering
enquire_link, handing over responses and receipts); sends are written from the event loop's
worker threads under a lock. Phone numbers and texts are never logged: smpplib's own debug
output (PDUs in hex) is switched off, and our lines carry message ids only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from services import sms_text
from services.config import Settings
from services.sms_receipts import DeliveryReceipt, parse_receipt

log = logging.getLogger(__name__)
# smpplib logs every PDU in hex at DEBUG, phone numbers and texts included: never. Its warnings
# repeat what this module logs in its own words (a session lost, a bind refused).
logging.getLogger("smpplib").setLevel(logging.ERROR)

STATUS_NAMES = {
    value: name.removeprefix("SMPP_")
    for name, value in vars(smpplib.consts).items()
    if name.startswith("SMPP_ESME_") and isinstance(value, int)
}
LOGIN_REFUSED = {
    smpplib.consts.SMPP_ESME_RINVPASWD,
    smpplib.consts.SMPP_ESME_RINVSYSID,
    smpplib.consts.SMPP_ESME_RBINDFAIL,
}
TON_INTERNATIONAL, NPI_ISDN = 1, 1
RECEIPT_ON_SUCCESS_OR_FAILURE = 1
RECEIPT_RECORD_SECONDS = 10.0  # a receipt not recorded by then is refused: the centre sends it again
ENQUIRE_LINK_SECONDS = 30.0  # an idle session asks the centre whether it is still there
MAX_RECONNECT_SECONDS = 300.0

ReceiptHandler = Callable[[DeliveryReceipt], Coroutine[Any, Any, None]]


class SmsError(Exception):
    """The SMS was not sent; retrying later may help."""


class SmsCentreUnavailable(SmsError):
    """The SMS centre could not be reached, did not answer in time, or dropped the session."""


class SmsCentreLoginRefused(SmsError):
    """The SMS centre refused our bind (system id or password)."""


class SmsRefused(SmsError):
    """The SMS centre refused the message."""


class SmsSender(Protocol):
    async def send(self, phone: str, text: str, *, message_id: str) -> list[str]:
        """Send; the SMS centre's message id of each part."""
        ...

    async def receive_receipts(self, on_receipt: ReceiptHandler, *, stop: asyncio.Event) -> None:
        """Stay bound until `stop`, handing every delivery receipt to `on_receipt`."""
        ...

    def close(self) -> None: ...


def status_name(status: int) -> str:
    return f"{STATUS_NAMES.get(status, 'unknown status')} ({status:#04x})"


def destination(phone: str) -> str:
    """The international number without its "+" (TON international, NPI E.164)."""
    digits = "".join(c for c in phone if c.isdigit())
    if not digits:
        raise ValueError("the phone number has no digits")
    return digits


def _reference(message_id: str) -> int:
    """The concatenation reference: the same for every attempt of one message."""
    return zlib.crc32(message_id.encode()) & 0xFF


class _Client(smpplib.client.Client):  # type: ignore[misc]  # smpplib has no type hints
    """smpplib's client with writes and sequence numbers safe across threads, and deliver_sm
    answered by us once the receipt is recorded (smpplib answers right after its handler, on the
    reading thread, which must not wait for the database meanwhile)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._write = threading.Lock()

    def send_pdu(self, p: Any) -> bool:
        with self._write:
            return bool(super().send_pdu(p))

    def next_sequence(self) -> int:
        with self._write:
            return int(super().next_sequence())

    def _message_received(self, pdu: Any) -> None:
        self.message_received_handler(pdu=pdu)


class _Session:
    """One bound SMPP session and the thread that reads it."""

    def __init__(
        self,
        settings: Settings,
        bind: str,
        loop: asyncio.AbstractEventLoop,
        on_receipt: ReceiptHandler | None,
    ) -> None:
        self.bind, self.loop, self._on_receipt = bind, loop, on_receipt
        self._settings = settings
        self._client = _Client(
            settings.smpp_host,
            settings.smpp_port,
            timeout=settings.smpp_connect_timeout_seconds,
            logger_name="smpplib.client",
            allow_unknown_opt_params=True,
        )
        self._client.set_message_sent_handler(self._answered)
        self._client.set_error_pdu_handler(self._refused)
        self._client.set_message_received_handler(self._received)
        self._pending: dict[int, asyncio.Future[str]] = {}
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()  # deliver_sm, answered in order
        self._answering: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self._stopping = False

    @property
    def alive(self) -> bool:
        return not self.closed.is_set()

    # ------------------------------------------------------------ on the event loop

    async def open(self) -> None:
        await asyncio.to_thread(self._bind)
        self._answering = asyncio.create_task(self._answer_deliveries())
        threading.Thread(target=self._read, name="smpp-session", daemon=True).start()
        log.info("bound to the SMS centre as %s", self.bind)

    async def _answer_deliveries(self) -> None:
        """Each deliver_sm: a receipt is acknowledged once recorded, else refused for now (the
        centre sends it again later); anything else is acknowledged and ignored."""
        while True:
            pdu = await self._inbox.get()
            status = await self._delivered(pdu)
            answer = smpplib.smpp.make_pdu("deliver_sm_resp", client=self._client, status=status)
            answer.sequence = pdu.sequence
            try:
                await asyncio.to_thread(self._write, answer)
            except SmsError:
                return  # the session is gone; the centre sends the receipt again on the next one

    async def _delivered(self, pdu: Any) -> int:
        receipt = parse_receipt(
            esm_class=pdu.esm_class or 0,
            short_message=pdu.short_message or b"",
            receipted_message_id=getattr(pdu, "receipted_message_id", None),
            message_state=getattr(pdu, "message_state", None),
        )
        if receipt is None:
            log.info("an incoming SMS (not a receipt) was acknowledged and ignored")
            return int(smpplib.consts.SMPP_ESME_ROK)
        if self._on_receipt is None:
            log.warning("receipt for %s arrived on a session that records none", receipt.smsc_message_id)
            return int(smpplib.consts.SMPP_ESME_ROK)
        try:
            await asyncio.wait_for(self._on_receipt(receipt), RECEIPT_RECORD_SECONDS)
        except Exception as error:
            log.warning(
                "receipt for %s not recorded (%s): refused for now",
                receipt.smsc_message_id,
                type(error).__name__,
            )
            return int(smpplib.consts.SMPP_ESME_RX_T_APPN)
        return int(smpplib.consts.SMPP_ESME_ROK)

    async def submit(self, destination_addr: str, payload: bytes, parts: sms_text.SmsParts) -> str:
        s = self._settings
        pdu = smpplib.smpp.make_pdu(
            "submit_sm",
            client=self._client,
            source_addr_ton=s.smpp_source_addr_ton,
            source_addr_npi=s.smpp_source_addr_npi,
            source_addr=s.smpp_source_addr,
            dest_addr_ton=TON_INTERNATIONAL,
            dest_addr_npi=NPI_ISDN,
            destination_addr=destination_addr,
            esm_class=parts.esm_class,
            data_coding=parts.data_coding,
            registered_delivery=RECEIPT_ON_SUCCESS_OR_FAILURE,
            short_message=payload,
        )
        answer: asyncio.Future[str] = self.loop.create_future()
        self._pending[pdu.sequence] = answer  # before writing: the answer may come at once
        try:
            await asyncio.to_thread(self._write, pdu)
            return await asyncio.wait_for(answer, s.smpp_response_timeout_seconds)
        except TimeoutError:
            self.close()  # a centre that stops answering gets a fresh session next time
            raise SmsCentreUnavailable(
                f"the SMS centre did not answer submit_sm within {s.smpp_response_timeout_seconds:g} s"
            ) from None
        finally:
            self._pending.pop(pdu.sequence, None)

    def close(self) -> None:
        """Unbind (best effort) and drop the connection; the reading thread ends with it."""
        if self._stopping:
            return
        self._stopping = True
        with contextlib.suppress(SmsError):
            self._write(smpplib.smpp.make_pdu("unbind", client=self._client))
        sock = self._client._socket
        if sock is None:
            self.closed.set()
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread, which reports the session closed

    # ------------------------------------------------------------ on other threads

    def _bind(self) -> None:
        s = self._settings
        try:
            self._client.connect()
            bind = {"TRX": self._client.bind_transceiver, "TX": self._client.bind_transmitter}[self.bind]
            bind(
                system_id=s.smpp_system_id,
                password=s.smpp_password.get_secret_value(),
                system_type=s.smpp_system_type,
            )
        except smpplib.exceptions.PDUError as error:
            self._client.disconnect()
            status = int(error.args[1]) if len(error.args) > 1 else -1
            if status in LOGIN_REFUSED:
                raise SmsCentreLoginRefused(
                    f"the SMS centre refused our bind: {status_name(status)}; "
                    "check SMPP_SYSTEM_ID and SMPP_PASSWORD"
                ) from None
            raise SmsCentreUnavailable(f"the SMS centre refused our bind: {status_name(status)}") from None
        except (smpplib.exceptions.ConnectionError, OSError) as error:
            self._client.disconnect()
            raise SmsCentreUnavailable(
                f"the SMS centre at {s.smpp_host}:{s.smpp_port} could not be reached or did not "
                f"answer our bind within {s.smpp_connect_timeout_seconds:g} s ({error or 'no answer'})"
            ) from None
        # From here on the socket's timeout is the idle time after which we enquire the link.
        self._client._socket.settimeout(ENQUIRE_LINK_SECONDS)

    def _write(self, pdu: Any) -> None:
        try:
            self._client.send_pdu(pdu)
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as error:
            raise SmsCentreUnavailable(f"the SMS centre session broke while sending ({error})") from None

    def _read(self) -> None:
        reason = "closed"
        try:
            while True:
                self._client.read_once()  # answers enquire_link; enquires itself when idle
        except (smpplib.exceptions.ConnectionError, OSError) as error:
            reason = "closed" if self._stopping else f"lost ({type(error).__name__})"
        except Exception as error:
            reason = f"ended by an unreadable answer ({type(error).__name__})"
        finally:
            self._client.disconnect()
            if not self._stopping:
                log.warning("SMS centre session (%s) %s", self.bind, reason)
            self._call(self._ended)

    def _ended(self) -> None:
        if self._answering is not None:
            self._answering.cancel()
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(SmsCentreUnavailable("the SMS centre session closed before it answered"))
        self.closed.set()

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is gone: nobody waits any more
            self.loop.call_soon_threadsafe(callback, *args)

    def _settle(self, sequence: int, message_id: str | None, error: SmsError | None) -> None:
        answer = self._pending.get(sequence)
        if answer is None or answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(message_id or "")

    def _answered(self, pdu: Any) -> None:
        if pdu.status == smpplib.consts.SMPP_ESME_ROK:
            message_id = pdu.message_id
            if isinstance(message_id, bytes):
                message_id = message_id.decode("ascii", errors="replace")
            self._call(self._settle, pdu.sequence, str(message_id or ""), None)

    def _refused(self, pdu: Any) -> None:
        self._call(
            self._settle,
            pdu.sequence,
            None,
            SmsRefused(f"the SMS centre refused the message ({pdu.command}): {status_name(pdu.status)}"),
        )

    def _received(self, pdu: Any) -> None:
        self._call(self._inbox.put_nowait, pdu)


class SmppSmsSender:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: _Session | None = None
        self._on_receipt: ReceiptHandler | None = None
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def send(self, phone: str, text: str, *, message_id: str) -> list[str]:
        parts = sms_text.split(text, reference=_reference(message_id))
        number = destination(phone)
        session = await self._bound()
        ids = [await session.submit(number, payload, parts) for payload in parts.payloads]
        log.info(
            "SMS %s accepted by the SMS centre in %d part(s) (data coding %d): %s",
            message_id,
            len(ids),
            parts.data_coding,
            ", ".join(ids),
        )
        return ids

    async def receive_receipts(self, on_receipt: ReceiptHandler, *, stop: asyncio.Event) -> None:
        self._on_receipt = on_receipt
        pause = self._settings.smpp_reconnect_seconds
        try:
            while not stop.is_set():
                try:
                    session = await self._bound()
                except SmsError as error:
                    log.warning("no session for delivery receipts (%s); binding again in %g s", error, pause)
                    await _wait_for(stop, pause)
                    pause = min(pause * 2, MAX_RECONNECT_SECONDS)  # a centre away for long: fewer tries
                    continue
                pause = self._settings.smpp_reconnect_seconds
                await _first(stop.wait(), session.closed.wait())
        finally:
            self._on_receipt = None
            self.close()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    async def _bound(self) -> _Session:
        """The bound session for this event loop: a transceiver while receipts are received."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        async with self._lock[1]:
            wanted = "TRX" if self._on_receipt is not None else "TX"
            current = self._session
            if current is not None and current.alive and current.loop is loop and current.bind == wanted:
                return current
            if current is not None:
                current.close()
            self._session = None
            session = _Session(self._settings, wanted, loop, self._on_receipt)
            await session.open()
            self._session = session
            return session


async def _wait_for(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def _first(*waits: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
