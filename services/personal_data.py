"""Citizens' personal data (KVKK, Law 6698) encrypted at rest, and masked wherever text is logged.

Contact columns are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256) under PERSONAL_DATA_KEYS:
the first key encrypts, every key decrypts, so a key is rotated by putting the new one first.
Local mode has a fixed development key; production refuses to start without its own.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

# Only for `ENVIRONMENT=local`: anyone with this repository can read data encrypted with it.
LOCAL_DEVELOPMENT_KEY = "a2FsaXRlLXllcmVsLWdlbGlzdGlybWUtYW5haHRhcjE="
EMAIL = re.compile(r"[^\s@<>()'\"]+@[^\s@<>()'\",;]+")
PHONE = re.compile(r"(?:\+90\s?|\b0\s?|\b)5\d{2}[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}\b")


@lru_cache
def cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    from services.config import get_settings  # settings import the models' module graph lazily

    return cipher(tuple(get_settings().personal_data_key_list))


class EncryptedText(TypeDecorator[str]):
    """A text column whose value is encrypted before it reaches PostgreSQL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else _current().encrypt(str(value).encode()).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else _current().decrypt(str(value).encode()).decode()


def mask(text: str) -> str:
    """E-mail addresses and Turkish mobile numbers replaced, for logs and incident messages."""
    return PHONE.sub("<telefon>", EMAIL.sub("<e-posta>", text))
