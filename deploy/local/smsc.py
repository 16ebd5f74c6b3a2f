"""The local SMS centre: a real SMPP 3.4 server that keeps every message it receives as JSON.

Production points the SMPP settings at the operator's SMS centre instead.
`python -m deploy.local.smsc` (started by `make up`) listens on SMPP_HOST:SMPP_PORT and accepts
binds (transmitter, receiver, transceiver) with SMPP_SYSTEM_ID / SMPP_PASSWORD only, submit_sm,
enquire_link and unbind. A message sent in parts (user data header) is stored once, joined and
decoded, under DATA_DIR/smsc: one JSON file per message, written atomically. Asked for a delivery
receipt (registered_delivery), it sends one deliver_sm per part back, on the submitting session
when it can receive, else on another bound receiver of the same system id, else at the next bind.

Every PDU is read and written with smpplib's codec (the library our sender uses); this module
keeps the conversation, the store and the receipts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import struct
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import smpplib.consts as smpp
import smpplib.smpp

from services import sms_text
from services.config import get_settings

log = logging.getLogger(__name__)

COMMANDS = {
    0x00000001: "bind_receiver",
    0x00000002: "bind_transmitter",
    0x00000004: "submit_sm",
    0x80000005: "deliver_sm_resp",
    0x00000006: "unbind",
    0x00000009: "bind_transceiver",
    0x00000015: "enquire_link",
    0x80000015: "enquire_link_resp",
}
BINDS = {"bind_receiver": "RX", "bind_transmitter": "TX", "bind_transceiver": "TRX"}
ESME_RINVDCS = 0x104  # SMPP 5.0's "invalid data coding", which smpplib does not name
MESSAGE_STATE = {"DELIVRD": 2, "UNDELIV": 5}
MAX_PDU = 64 * 1024
SMSC_TIME = ZoneInfo("Europe/Istanbul")  # receipts' dates, as Turkish operators write them


class _Codec:
    """What smpplib's PDUs ask of a client: sequence numbers for the PDUs we originate."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence


def _ascii(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return value or ""


def _smpp_time(moment: datetime) -> str:
    return moment.astimezone(SMSC_TIME).strftime("%y%m%d%H%M")


@dataclass(eq=False)  # one per connection, kept in a set by identity
class _Session:
    writer: asyncio.StreamWriter
    system_id: str = ""
    bind: str = ""  # RX, TX or TRX once bound
    codec: _Codec = field(default_factory=_Codec)

    @property
    def can_receive(self) -> bool:
        return self.bind in ("RX", "TRX") and not self.writer.is_closing()

    def answer(
        self, command: str, request_sequence: int, status: int = smpp.SMPP_ESME_ROK, **fields: Any
    ) -> None:
        pdu = smpplib.smpp.make_pdu(command, client=self.codec, status=status, **fields)
        pdu.sequence = request_sequence
        self.writer.write(pdu.generate())

    def request(self, command: str, **fields: Any) -> None:
        self.writer.write(smpplib.smpp.make_pdu(command, client=self.codec, **fields).generate())


@dataclass
class _Receipt:
    system_id: str
    message_id: str
    recipient: str  # the receipt comes from the handset's number ...
    sender: str  # ... to the address the message came from
    submitted_at: datetime
    status: str


@dataclass
class _Partial:
    parts: dict[int, bytes] = field(default_factory=dict)
    message_ids: dict[int, str] = field(default_factory=dict)


class SmsCentre:
    """One SMS centre: its credentials, its store, its bound sessions."""

    def __init__(
        self,
        directory: Path,
        *,
        system_id: str,
        password: str,
        receipt_delay_seconds: float = 0.0,
        undeliverable: Iterable[str] = (),
    ) -> None:
        self.directory = directory
        self.system_id = system_id
        self.password = password
        self.receipt_delay_seconds = receipt_delay_seconds
        # Destinations whose receipts say UNDELIV (a handset that never answers).
        self.undeliverable = frozenset(undeliverable)
        self._sessions: set[_Session] = set()
        self._partial: dict[tuple[str, str, str, int, int], _Partial] = {}
        self._waiting_receipts: list[_Receipt] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        directory.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        """End every session and pending receipt, as a centre that goes down does."""
        for task in list(self._tasks):
            task.cancel()
        for session in list(self._sessions):
            session.writer.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    # ------------------------------------------------------------ the conversation

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.add(session)
        handler = asyncio.current_task()
        if handler is not None:
            self._tasks.add(handler)
        try:
            while True:
                try:
                    header = await reader.readexactly(16)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length, command_id, _status, sequence = struct.unpack(">IIII", header)
                if not 16 <= length <= MAX_PDU:
                    session.answer("generic_nack", sequence, smpp.SMPP_ESME_RINVCMDLEN)
                    return
                body = await reader.readexactly(length - 16)
                command = COMMANDS.get(command_id)
                if command is None:
                    session.answer("generic_nack", sequence, smpp.SMPP_ESME_RINVCMDID)
                elif not await self._dispatch(session, command, header + body):
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._sessions.discard(session)
            if handler is not None:
                self._tasks.discard(handler)
            if session.bind:
                log.info("session of %s (%s) ended", session.system_id, session.bind)
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    async def _dispatch(self, session: _Session, command: str, raw: bytes) -> bool:
        """Answer one PDU; False ends the session."""
        try:
            pdu = smpplib.smpp.parse_pdu(raw, client=session.codec, allow_unknown_opt_params=True)
        except Exception:
            session.answer("generic_nack", struct.unpack(">I", raw[12:16])[0], smpp.SMPP_ESME_RSYSERR)
            return False
        if command in BINDS:
            return self._bind(session, command, pdu)
        if command == "enquire_link":
            session.answer("enquire_link_resp", pdu.sequence)
        elif command == "unbind":
            session.answer("unbind_resp", pdu.sequence)
            await session.writer.drain()
            return False
        elif command == "submit_sm":
            if session.bind not in ("TX", "TRX"):
                session.answer("submit_sm_resp", pdu.sequence, smpp.SMPP_ESME_RINVBNDSTS)
            else:
                await self._submit(session, pdu)
        return True  # deliver_sm_resp, enquire_link_resp: nothing waits for them

    def _bind(self, session: _Session, command: str, pdu: Any) -> bool:
        response = f"{command}_resp"
        if session.bind:
            session.answer(response, pdu.sequence, smpp.SMPP_ESME_RALYBND)
            return True
        system_id, password = _ascii(pdu.system_id), _ascii(pdu.password)
        if system_id != self.system_id:
            log.warning("bind refused: unknown system id")
            session.answer(response, pdu.sequence, smpp.SMPP_ESME_RINVSYSID)
            return False
        if password != self.password:
            log.warning("bind of %s refused: wrong password", system_id)
            session.answer(response, pdu.sequence, smpp.SMPP_ESME_RINVPASWD)
            return False
        session.system_id, session.bind = system_id, BINDS[command]
        session.answer(response, pdu.sequence, system_id=self.system_id)
        log.info("%s bound as %s", system_id, session.bind)
        if session.can_receive:
            self._flush_waiting_receipts(session)
        return True

    async def _submit(self, session: _Session, submit: Any) -> None:
        short_message: bytes = submit.short_message or getattr(submit, "message_payload", None) or b""
        if submit.data_coding not in (0x00, 0x01, 0x03, 0x08):
            session.answer("submit_sm_resp", submit.sequence, ESME_RINVDCS)
            return
        source, recipient = _ascii(submit.source_addr), _ascii(submit.destination_addr)
        esm_class, registered_delivery = submit.esm_class or 0, submit.registered_delivery or 0
        message_id = uuid.uuid4().hex
        part = sms_text.concatenation(short_message) if esm_class & sms_text.UDHI else None
        if esm_class & sms_text.UDHI and part is None:
            short_message = short_message[1 + short_message[0] :]  # a header without concatenation
        if part is None:
            await self._store(session, submit, [message_id], short_message, parts=1)
        else:
            key = (session.system_id, source, recipient, part.reference, part.total)
            partial = self._partial.setdefault(key, _Partial())
            partial.parts[part.number] = part.body
            partial.message_ids[part.number] = message_id
            if len(partial.parts) == part.total:
                del self._partial[key]
                ordered = sorted(partial.parts)
                await self._store(
                    session,
                    submit,
                    [partial.message_ids[n] for n in ordered],
                    b"".join(partial.parts[n] for n in ordered),
                    parts=part.total,
                )
        session.answer("submit_sm_resp", submit.sequence, message_id=message_id)
        await session.writer.drain()
        if registered_delivery & 0x03:
            delivered = recipient not in self.undeliverable
            if delivered and registered_delivery & 0x03 == 2:
                return  # receipt on failure only
            receipt = _Receipt(
                session.system_id,
                message_id,
                recipient=recipient,
                sender=source,
                submitted_at=datetime.now(UTC),
                status="DELIVRD" if delivered else "UNDELIV",
            )
            task = asyncio.create_task(self._send_receipt(session, receipt))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ delivery receipts

    async def _send_receipt(self, submitting: _Session, receipt: _Receipt) -> None:
        await asyncio.sleep(self.receipt_delay_seconds)
        session = submitting if submitting.can_receive and submitting in self._sessions else None
        session = session or next(
            (s for s in self._sessions if s.can_receive and s.system_id == receipt.system_id), None
        )
        if session is None:
            self._waiting_receipts.append(receipt)  # sent when a receiver binds
            return
        self._write_receipt(session, receipt)
        with contextlib.suppress(ConnectionError):
            await session.writer.drain()

    def _flush_waiting_receipts(self, session: _Session) -> None:
        mine = [r for r in self._waiting_receipts if r.system_id == session.system_id]
        self._waiting_receipts = [r for r in self._waiting_receipts if r.system_id != session.system_id]
        for receipt in mine:
            self._write_receipt(session, receipt)

    def _write_receipt(self, session: _Session, receipt: _Receipt) -> None:
        done = datetime.now(UTC)
        delivered = receipt.status == "DELIVRD"
        # SMPP 3.4 Appendix B's receipt text, and the TLVs of the same facts (SMPP 3.4 5.3.2).
        text = (
            f"id:{receipt.message_id} sub:001 dlvrd:{'001' if delivered else '000'} "
            f"submit date:{_smpp_time(receipt.submitted_at)} done date:{_smpp_time(done)} "
            f"stat:{receipt.status} err:{'000' if delivered else '001'} text:"
        )
        session.request(
            "deliver_sm",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr=receipt.recipient,
            dest_addr_ton=5,
            dest_addr_npi=0,
            destination_addr=receipt.sender,
            esm_class=0x04,
            short_message=text.encode("ascii"),
            receipted_message_id=receipt.message_id,
            message_state=MESSAGE_STATE[receipt.status],
        )
        log.info("receipt %s for %s sent", receipt.status, receipt.message_id)

    # ------------------------------------------------------------ the store

    async def _store(
        self, session: _Session, submit: Any, message_ids: list[str], payload: bytes, *, parts: int
    ) -> None:
        try:
            text = sms_text.decode(payload, submit.data_coding)
        except (UnicodeDecodeError, ValueError):
            text = None
        record = {
            "messageIds": message_ids,
            "systemId": session.system_id,
            "source": _ascii(submit.source_addr),
            "sourceTon": submit.source_addr_ton or 0,
            "destination": _ascii(submit.destination_addr),
            "destinationTon": submit.dest_addr_ton or 0,
            "text": text,
            "payloadHex": payload.hex(),
            "parts": parts,
            "dataCoding": submit.data_coding or 0,
            "esmClass": submit.esm_class or 0,
            "registeredDelivery": submit.registered_delivery or 0,
            "receivedAt": datetime.now(UTC).isoformat(),
        }
        name = await asyncio.to_thread(self.store, record)
        log.info("stored %s (%d part(s)), message ids %s", name, parts, ", ".join(message_ids))

    def store(self, record: dict[str, Any]) -> str:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
        temporary = self.directory / f".{name}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(record, handle, ensure_ascii=False, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.rename(self.directory / name)  # readers never see half a message
        return name


def read_smsc(directory: Path) -> list[dict[str, Any]]:
    """Every message the SMS centre stored, oldest first."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]


class SmscController:
    """The SMS centre on its own event loop in a thread (like aiosmtpd's Controller), for the tests."""

    def __init__(self, centre: SmsCentre, host: str, port: int) -> None:
        self.centre, self.host, self.port = centre, host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smsc", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> SmscController:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self.centre.handle, self.host, self.port), self._loop
        ).result(timeout=10)
        return self

    def stop(self) -> None:
        """Close the port and every bound session, as a server that goes down does."""

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            await self.centre.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def start_smsc(directory: Path, host: str, port: int, *, system_id: str, password: str) -> SmscController:
    return SmscController(SmsCentre(directory, system_id=system_id, password=password), host, port).start()


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    centre = SmsCentre(
        settings.smsc_dir,
        system_id=settings.smpp_system_id,
        password=settings.smpp_password.get_secret_value(),
        receipt_delay_seconds=0.5,
    )

    async def serve() -> None:
        server = await asyncio.start_server(centre.handle, settings.smpp_host, settings.smpp_port)
        log.info("SMS centre listening on %s:%d", settings.smpp_host, settings.smpp_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()
            server.close()
            await centre.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
