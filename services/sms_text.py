"""An SMS text as the parts SMPP carries: its alphabet, and concatenation headers when it is long.

GSM 7-bit (data_coding 0, the SMSC's default alphabet, one septet per octet as SMPP carries it)
for plain text: 160 characters in one SMS, 153 per part of a longer one. Everything else, and every
text with a Turkish letter, as UCS-2 (data_coding 8): 70 characters in one SMS, 67 per part.
Turkish letters always go as UCS-2 although the GSM alphabet has a few of them (Ç Ö Ü ö ü): its Ç
is shown as ç by some phones, and one rule the staff can predict beats a few saved parts.

A longer text is split into parts that each start with a user data header (3GPP TS 23.040
9.2.3.24.1, 8-bit reference): the phone joins them back in order. A part never ends in the middle
of a character (a GSM escape pair or a UTF-16 surrogate pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec

GSM7 = 0x00  # SMPP data_coding: SMSC default alphabet (GSM 03.38)
UCS2 = 0x08  # SMPP data_coding: UCS-2 (ISO/IEC 10646), big-endian
UDHI = 0x40  # SMPP esm_class: short_message starts with a user data header
# (data coding, octets in a single SMS, octets per part after the 6-octet header)
LIMITS = {GSM7: (160, 153), UCS2: (140, 134)}
TURKISH_LETTERS = frozenset("çÇğĞıİöÖşŞüÜ")
MAX_PARTS = 255


@dataclass(frozen=True)
class SmsParts:
    data_coding: int
    esm_class: int
    payloads: list[bytes]


@dataclass(frozen=True)
class Concatenation:
    """Where one part belongs, read from its user data header."""

    reference: int
    total: int
    number: int
    body: bytes


def data_coding_for(text: str) -> int:
    if TURKISH_LETTERS.intersection(text):
        return UCS2
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return UCS2
    return GSM7


def encode(text: str, data_coding: int) -> bytes:
    return text.encode("gsm03.38") if data_coding == GSM7 else text.encode("utf-16-be")


def decode(payload: bytes, data_coding: int) -> str:
    if data_coding == GSM7:
        return payload.decode("gsm03.38")
    if data_coding == UCS2:
        return payload.decode("utf-16-be")
    if data_coding == 0x03:  # ISO-8859-1
        return payload.decode("latin-1")
    if data_coding == 0x01:  # IA5 (ASCII)
        return payload.decode("ascii")
    raise ValueError(f"data_coding {data_coding:#04x} is not supported")


def split(text: str, *, reference: int) -> SmsParts:
    """The SMPP short_message of each part; `reference` (0-255) ties the parts together."""
    if not text:
        raise ValueError("an SMS needs a text")
    coding = data_coding_for(text)
    single, per_part = LIMITS[coding]
    whole = encode(text, coding)
    if len(whole) <= single:
        return SmsParts(coding, 0x00, [whole])
    chunks: list[bytes] = []
    current = b""
    for character in text:  # whole characters only: never half an escape or surrogate pair
        encoded = encode(character, coding)
        if len(current) + len(encoded) > per_part:
            chunks.append(current)
            current = b""
        current += encoded
    chunks.append(current)
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"the text needs {len(chunks)} SMS parts; at most {MAX_PARTS} can be joined")
    header = bytes([0x05, 0x00, 0x03, reference & 0xFF, len(chunks)])
    return SmsParts(coding, UDHI, [header + bytes([n]) + c for n, c in enumerate(chunks, start=1)])


def concatenation(short_message: bytes) -> Concatenation | None:
    """The concatenation element of a part's user data header (8- or 16-bit reference), if any."""
    if not short_message:
        return None
    length = short_message[0]
    header, body = short_message[1 : 1 + length], short_message[1 + length :]
    at = 0
    while at + 2 <= len(header):
        element, size = header[at], header[at + 1]
        value = header[at + 2 : at + 2 + size]
        if element == 0x00 and size == 3:
            return Concatenation(value[0], value[1], value[2], body)
        if element == 0x08 and size == 4:
            return Concatenation(int.from_bytes(value[:2], "big"), value[2], value[3], body)
        at += 2 + size
    return None
