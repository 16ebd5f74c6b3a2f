"""Intake channels' API keys: created and revoked by `kalite-keys`, kept as SHA-256 only.

A key reads `bht_<prefix>_<secret>`; the secret has 256 random bits, so a plain SHA-256 is a
safe verifier (no password stretching needed) and lets the API find the key by its hash.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services.db import UnitOfWorkFactory
from services.models import ApiKey

CHANNELS = ("cagri-merkezi", "web", "mobil", "eposta", "cimer", "sosyal-medya", "yuz-yuze", "open311")
DEFAULT_REQUESTS_PER_MINUTE = 600


class ApiKeyRefused(Exception):
    """A key command that cannot be done as asked (name taken, unknown channel, no such key)."""


@dataclass(frozen=True)
class ChannelKey:
    id: str
    name: str
    channel: str
    requests_per_minute: int


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(uow: UnitOfWorkFactory, *, name: str, channel: str, requests_per_minute: int) -> str:
    """Store a new key and return its secret, the only time it is ever shown."""
    if channel not in CHANNELS:
        raise ApiKeyRefused(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    if requests_per_minute < 1:
        raise ApiKeyRefused("requests per minute must be at least 1")
    prefix = secrets.token_hex(4)
    secret = f"bht_{prefix}_{secrets.token_urlsafe(32)}"
    try:
        with uow() as unit:
            unit.session.add(
                ApiKey(
                    name=name,
                    channel=channel,
                    prefix=prefix,
                    secret_sha256=digest(secret),
                    requests_per_minute=requests_per_minute,
                )
            )
            unit.commit()
    except IntegrityError:
        raise ApiKeyRefused(f"an active key named {name!r} exists; revoke it first") from None
    return secret


def revoke(uow: UnitOfWorkFactory, *, name: str) -> None:
    with uow() as unit:
        revoked = unit.session.scalars(
            update(ApiKey)
            .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
            .returning(ApiKey.id)
        ).all()
        if not revoked:
            raise ApiKeyRefused(f"no active key named {name!r}")
        unit.commit()


def active(uow: UnitOfWorkFactory) -> list[ApiKey]:
    with uow() as unit:
        keys = list(
            unit.session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None)).order_by(ApiKey.name))
        )
        unit.session.expunge_all()  # detached as loaded, before the unit of work rolls back
        return keys


def lookup(uow: UnitOfWorkFactory, secret: str) -> ChannelKey | None:
    """The active key with this secret (its last use stamped), or None."""
    with uow() as unit:
        key = unit.session.scalar(
            select(ApiKey).where(ApiKey.secret_sha256 == digest(secret), ApiKey.revoked_at.is_(None))
        )
        if key is None:
            return None
        key.last_used_at = datetime.now(UTC)
        unit.commit()
        return ChannelKey(
            id=str(key.id), name=key.name, channel=key.channel, requests_per_minute=key.requests_per_minute
        )


def main(argv: list[str] | None = None) -> int:
    from services.bootstrap import bootstrap

    parser = argparse.ArgumentParser(prog="kalite-keys", description="Intake channels' API keys")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("create", help="create a key and print its secret once")
    new.add_argument("name", help="the integration, e.g. alo-185 or cimer-koprusu")
    new.add_argument("--channel", required=True, choices=CHANNELS)
    new.add_argument("--per-minute", type=int, default=DEFAULT_REQUESTS_PER_MINUTE, help="rate limit")
    gone = commands.add_parser("revoke", help="revoke the active key of an integration")
    gone.add_argument("name")
    commands.add_parser("list", help="active keys (never their secrets)")
    args = parser.parse_args(argv)

    container = bootstrap()
    try:
        if args.command == "create":
            secret = create(
                container.uow, name=args.name, channel=args.channel, requests_per_minute=args.per_minute
            )
            print(secret)  # noqa: T201 - the one time the secret is shown
        elif args.command == "revoke":
            revoke(container.uow, name=args.name)
            print(f"revoked {args.name}")  # noqa: T201
        else:
            for key in active(container.uow):
                print(  # noqa: T201
                    f"{key.name}\t{key.channel}\tbht_{key.prefix}_…\t{key.requests_per_minute}/min\t"
                    f"created {key.created_at:%Y-%m-%d}\tlast used {key.last_used_at or '-'}"
                )
    except ApiKeyRefused as error:
        print(f"kalite-keys: {error}", file=sys.stderr)  # noqa: T201
        return 2
    finally:
        container.close()
    return 0
