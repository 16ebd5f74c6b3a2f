"""The local mailbox: a real SMTP server that keeps every received message as an .eml file.

Production points the SMTP settings at the municipality's server instead.
`python -m deploy.local.mailbox` (started by `make up`) runs it on SMTP_HOST:SMTP_PORT, storing
under DATA_DIR/mailbox.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import uuid
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from services.config import get_settings

log = logging.getLogger(__name__)


class MailboxHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        name = await asyncio.to_thread(self.store, data)
        log.info("stored %s (%d bytes)", name, len(data))
        return "250 Message accepted for delivery"

    def store(self, data: bytes) -> str:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        temporary = self.directory / f".{name}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.rename(self.directory / name)  # readers never see half a message
        return name


def start_mailbox(directory: Path, host: str, port: int) -> Controller:
    controller = Controller(MailboxHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


def read_mailbox(directory: Path) -> list[EmailMessage]:
    parser = BytesParser(policy=policy.default)
    messages = []
    for path in sorted(directory.glob("*.eml")):
        message = parser.parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    controller = start_mailbox(settings.mailbox_dir, settings.smtp_host, settings.smtp_port)
    log.info("mailbox listening on %s:%d", settings.smtp_host, settings.smtp_port)

    async def wait_for_signal() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait_for_signal())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
