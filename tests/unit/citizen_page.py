"""Helpers for the citizen page's tests: reading a page's form token and question, solving the
bot check as a browser or a person would, and bringing a request to the states the track page
acts on through our own service functions."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import struct
import uuid
import zlib
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from services import citizen_requests as service
from services.bootstrap import Container
from services.web.forms import NUMBERS


def png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG image (an orange square), as a phone camera's export would be for the server."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x8c\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


DESCRIPTION = (
    "Gazi Mahallesi Şehit İlhan Sokak'ta büyük bir çukur var; araçlar ığdır yönüne dönerken zorlanıyor."
)
ADDRESS = "Gazi Mah. Şehit İlhan Sk. No:4, Yenişehir/Mersin"
WORDS = {word: number for number, word in NUMBERS.items()}


def tokens(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'name="form_token" value="([^"]+)"', page)]


def question(page: str) -> str:
    found = re.search(r"Güvenlik sorusu: (.+?) artı (.+?) kaç eder\?", page)
    assert found, "no question in words on the page"
    return str(WORDS[found.group(1)] + WORDS[found.group(2)])


def proof_of_work(token: str, bits: int) -> str:
    """What the page's script does: the first nonce whose SHA-256(token:nonce) has `bits` zero bits."""
    nonce = 0
    while int.from_bytes(hashlib.sha256(f"{token}:{nonce}".encode()).digest(), "big") >> (256 - bits):
        nonce += 1
    return str(nonce)


def report_fields(token: str, **overrides: str) -> dict[str, str]:
    fields = {
        "form_token": token,
        "kategori": "YOL-CUKUR",
        "tur": "sikayet",
        "aciklama": DESCRIPTION,
        "soru-cukur-boyutu": "orta",
        "adres": ADDRESS,
        "ilce": "Yenişehir",
        "enlem": "36,7841",
        "boylam": "34,6015",
        "ad_soyad": "Ayşe Yıldırım Öztürk",
        "telefon": "0532 123 45 67",
        "eposta": f"ayse.{uuid.uuid4().hex[:8]}@vatandas.local",
        "yanit_kanali": "eposta",
        "durum_bildirimi": "evet",
        "kvkk": "evet",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v != ""}


def tracking_number(page: str) -> str:
    found = re.search(r'id="takip-no">([A-Z0-9-]+)<', page)
    assert found, page[:3000]
    return found.group(1)


def _run(work: Coroutine[Any, Any, Any]) -> None:
    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


def ask_for_information(container: Container, tracking: str, question_text: str) -> None:
    """What the directorate's "bilgi gerekli" does through the workers: the assessment recorded,
    the citizen asked (mail), the request waiting for the citizen."""
    request, _ = service.get_by_tracking(container.uow, tracking)
    step = f"test-{uuid.uuid4()}"
    service.record_step(
        container.uow,
        request_id=request.id,
        event="mudurluk-degerlendirmesi",
        actor="yol.personel",
        details={"outcome": "bilgi-gerekli", "question": question_text},
        activity_instance_id=step,
    )
    _run(
        service.ask_citizen(
            container.uow,
            container.mailer,
            container.sms,
            request_id=request.id,
            question=question_text,
            activity_instance_id=step,
        )
    )


def answer_request(container: Container, tracking: str, **details: Any) -> None:
    """The directorate did the work and the citizen got the answer: closed, objection period open."""
    request, _ = service.get_by_tracking(container.uow, tracking)
    step = f"test-{uuid.uuid4()}"
    service.record_step(
        container.uow,
        request_id=request.id,
        event="mudurluk-degerlendirmesi",
        actor="yol.personel",
        details={"outcome": "yapildi", "resolution": "Çukur sıcak asfaltla dolduruldu.", **details},
        activity_instance_id=step,
    )
    _run(
        service.answer_citizen(
            container.uow,
            container.mailer,
            container.sms,
            request_id=request.id,
            outcome="yapildi",
            objection_period=timedelta(days=15),
            activity_instance_id=step,
        )
    )
