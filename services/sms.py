"""SMS behind a small interface. Locally a sender writes each SMS as a file under DATA_DIR/sms;
production plugs in the operator's gateway."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class SmsSender(Protocol):
    async def send(self, phone: str, text: str, *, message_id: str) -> None: ...


class FileSmsSender:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, phone: str, text: str, *, message_id: str) -> None:
        await asyncio.to_thread(self._write, phone, text, message_id)

    def _write(self, phone: str, text: str, message_id: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_text(
            json.dumps({"to": phone, "text": text, "messageId": message_id}, ensure_ascii=False),
            encoding="utf-8",
        )
        temporary.rename(self.directory / name)
