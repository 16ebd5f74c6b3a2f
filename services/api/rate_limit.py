"""Token buckets per caller (a channel key, a citizen's address): `per_minute` requests a minute,
with bursts up to `per_minute`, kept in PostgreSQL so that every API process counts against the
same bucket (two processes behind a load balancer must not double a key's limit).

One statement per request: refill by the time since the bucket was last counted, take a token if
there is one, and say whether there was. The row lock it takes lasts that statement only.
A bucket untouched for a minute is full again, so `forget_idle` may delete it without changing
any answer; the API does so every minute.
"""

from __future__ import annotations

import asyncio
import math

from sqlalchemy import text
from starlette.requests import Request

from services.db import UnitOfWorkFactory

TAKE = text(
    """
    INSERT INTO rate_limits AS b (caller, tokens, allowed, at)
    VALUES (:caller, :capacity - 1, true, now())
    ON CONFLICT (caller) DO UPDATE SET
        tokens = CASE WHEN least(:capacity, b.tokens + extract(epoch FROM now() - b.at) * :rate) >= 1
                      THEN least(:capacity, b.tokens + extract(epoch FROM now() - b.at) * :rate) - 1
                      ELSE least(:capacity, b.tokens + extract(epoch FROM now() - b.at) * :rate) END,
        allowed = least(:capacity, b.tokens + extract(epoch FROM now() - b.at) * :rate) >= 1,
        at = now()
    RETURNING allowed, tokens
    """
)
FORGET = text("DELETE FROM rate_limits WHERE at < now() - interval '2 minutes'")


class TokenBuckets:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def take_now(self, caller: str, per_minute: int) -> int:
        """0 when the request may go on, else the seconds to wait before the next one."""
        rate = per_minute / 60.0
        with self._uow() as uow:
            allowed, tokens = uow.session.execute(
                TAKE, {"caller": caller[:200], "capacity": float(per_minute), "rate": rate}
            ).one()
            uow.commit()
        return 0 if allowed else max(1, math.ceil((1.0 - tokens) / rate))

    async def take(self, caller: str, per_minute: int) -> int:
        return await asyncio.to_thread(self.take_now, caller, per_minute)

    def forget_idle(self) -> int:
        with self._uow() as uow:
            forgotten = uow.session.execute(FORGET).rowcount  # type: ignore[attr-defined]
            uow.commit()
        return int(forgotten or 0)


def caller_address(request: Request, trusted_proxies: list[str]) -> str:
    """The caller's IP address: the peer's, or — when the peer is one of our load balancers — the
    last address it appended to X-Forwarded-For (an earlier one is the client's own word)."""
    peer = request.client.host if request.client else "unknown"
    if peer in trusted_proxies:
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return peer
