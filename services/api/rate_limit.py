"""Token buckets per caller (a channel key, a citizen's address): `limit` requests a minute, with
bursts up to `limit`. Kept in the API process; with several API processes each holds its own
buckets, so the effective limit is per process (the scale-out issue moves it into PostgreSQL)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from starlette.requests import Request


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    def __init__(self, max_callers: int = 100_000) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._max_callers = max_callers

    def take(self, caller: str, per_minute: int, now: float | None = None) -> int:
        """0 when the request may go on, else the seconds to wait before the next one."""
        now = time.monotonic() if now is None else now
        rate = per_minute / 60.0
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= self._max_callers:  # many addresses must not grow it without end
                self._buckets.clear()
            bucket = self._buckets[caller] = _Bucket(float(per_minute), now)
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return max(1, math.ceil((1.0 - bucket.tokens) / rate))
        bucket.tokens -= 1.0
        return 0


def caller_address(request: Request, trusted_proxies: list[str]) -> str:
    """The caller's IP address: the peer's, or — when the peer is one of our load balancers — the
    last address it appended to X-Forwarded-For (an earlier one is the client's own word)."""
    peer = request.client.host if request.client else "unknown"
    if peer in trusted_proxies:
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return peer
