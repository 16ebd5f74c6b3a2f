"""Form tokens of the citizen page: one signed token per form carries the CSRF binding to the
visitor's cookie, the bot check's challenge and the one-time id of the submission.

- CSRF: the token names a hash of the HttpOnly, SameSite=Strict cookie it was issued with; a POST
  whose cookie does not match is refused (another site can neither read the cookie nor the token).
- Bot check, no outside service: the page's own script finds a nonce so that
  SHA-256(token ":" nonce) starts with `difficulty` zero bits; without JavaScript the person answers
  a sum written in Turkish words. The answer travels only as an HMAC, so the token does not give
  it away. A challenge counts once (`spend`); a token older than `max_age` is refused.
- One-time id (`reference`): the intake's channel reference, so a double submit (back button,
  double click) is the same request.

Spent challenges are kept in this process (like the rate limit's buckets, see rate_limit.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE = "bht_oturum"
NUMBERS = {
    0: "sıfır",
    1: "bir",
    2: "iki",
    3: "üç",
    4: "dört",
    5: "beş",
    6: "altı",
    7: "yedi",
    8: "sekiz",
    9: "dokuz",
    10: "on",
    11: "on bir",
    12: "on iki",
    13: "on üç",
    14: "on dört",
    15: "on beş",
    16: "on altı",
    17: "on yedi",
    18: "on sekiz",
}


def _fold(text: str) -> str:
    """Turkish lower case, then blind to dots and accents and spaces: "ON BİR", "on bir" and
    "onbir" (a keyboard without Turkish letters) are the same answer."""
    lowered = text.replace("I", "ı").replace("İ", "i").lower().replace("ı", "i")
    plain = "".join(c for c in unicodedata.normalize("NFD", lowered) if not unicodedata.combining(c))
    return "".join(plain.split())


WORDS = {_fold(word): number for number, word in NUMBERS.items()}


class FormRefused(Exception):
    """The token is forged, of another visitor or form, or spent: no form of ours sent this."""


class FormExpired(Exception):
    """A genuine token that is too old: the form must be shown again."""


class BotCheckFailed(Exception):
    """Neither a valid proof-of-work nor the right answer to the question."""


@dataclass(frozen=True)
class IssuedForm:
    token: str
    question: str | None  # the fallback question in words, None when already verified or no bot check
    difficulty: int


@dataclass(frozen=True)
class CheckedForm:
    reference: str
    challenge: str
    verified: bool  # the bot check passed (now or on an earlier showing of the same submission)


def new_cookie() -> str:
    return secrets.token_urlsafe(32)


def solves(token: str, nonce: str, difficulty: int) -> bool:
    """SHA-256 of `token:nonce` starts with `difficulty` zero bits."""
    if not nonce or len(nonce) > 32 or not nonce.isdigit():
        return False
    digest = int.from_bytes(hashlib.sha256(f"{token}:{nonce}".encode()).digest(), "big")
    return digest >> (256 - difficulty) == 0 if difficulty else True


def normalise_answer(text: str) -> int | None:
    """ "11", "on bir", "Onbir" → 11; anything else → None."""
    compact = _fold(text)
    if compact.isdigit() and len(compact) < 4:
        return int(compact)
    return WORDS.get(compact)


class FormTokens:
    def __init__(self, secret: str, *, difficulty: int, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="vatandas-formu")
        self._key = hashlib.sha256(b"answer:" + secret.encode()).digest()
        self.difficulty, self.max_age = difficulty, max_age_seconds
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(
        self, cookie: str, purpose: str, *, reference: str | None = None, verified: bool = False
    ) -> IssuedForm:
        challenge = secrets.token_urlsafe(12)
        first, second = secrets.choice(range(1, 10)), secrets.choice(range(1, 10))
        payload = {
            "p": purpose,
            "b": _binding(cookie),
            "r": reference or secrets.token_urlsafe(16),
            "c": challenge,
            "a": self._answer_mac(challenge, first + second),
            "v": verified,
        }
        token = str(self._serializer.dumps(payload))
        question = None if verified else f"{NUMBERS[first]} artı {NUMBERS[second]} kaç eder?"
        return IssuedForm(token=token, question=question, difficulty=self.difficulty)

    def check(
        self,
        token: str,
        cookie: str | None,
        purpose: str,
        *,
        nonce: str = "",
        answer: str = "",
        bot_check: bool = True,
    ) -> CheckedForm:
        """The token's submission, after CSRF and (with `bot_check`) the bot check. Raises
        FormRefused, FormExpired or BotCheckFailed; it does not spend the challenge."""
        try:
            payload = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise FormExpired() from None
        except BadSignature:
            raise FormRefused("bad signature") from None
        if not isinstance(payload, dict) or payload.get("p") != purpose:
            raise FormRefused("another form's token")
        if not cookie or not hmac.compare_digest(str(payload.get("b")), _binding(cookie)):
            raise FormRefused("another visitor's token")
        verified = bool(payload.get("v"))
        if bot_check and not verified:
            given = normalise_answer(answer)
            by_answer = given is not None and hmac.compare_digest(
                str(payload.get("a")), self._answer_mac(str(payload["c"]), given)
            )
            if not (by_answer or solves(token, nonce.strip(), self.difficulty)):
                raise BotCheckFailed()
            verified = True
        return CheckedForm(reference=str(payload["r"]), challenge=str(payload["c"]), verified=verified)

    def spend(self, challenge: str) -> bool:
        """True the first time a challenge is used, False after (a replayed form)."""
        now = time.monotonic()
        with self._lock:
            if len(self._spent) > 100_000:  # forget what has expired anyway
                self._spent = {c: t for c, t in self._spent.items() if t > now}
            if self._spent.get(challenge, 0) > now:
                return False
            self._spent[challenge] = now + self.max_age + 60
            return True

    def _answer_mac(self, challenge: str, number: int) -> str:
        return hmac.new(self._key, f"{challenge}:{number}".encode(), hashlib.sha256).hexdigest()[:32]


def _binding(cookie: str) -> str:
    return hashlib.sha256(b"csrf:" + cookie.encode()).hexdigest()[:32]
