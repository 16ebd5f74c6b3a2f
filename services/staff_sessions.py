"""Server-side sessions of the staff pages, in PostgreSQL.

The browser holds a random id (HttpOnly cookie, path /personel); the table holds only its SHA-256,
with who signed in (user, roles, directorate, as the access token said at sign-in), their ID
token (logout's `id_token_hint`), the provider's session id and user (for its back-channel
logout), when the session began and when it was last used. A session ends on logout (ours, or
the provider's back-channel logout when the user signs out elsewhere, e.g. in Tasklist), after
`STAFF_SESSION_IDLE_MINUTES` without a request, or `STAFF_SESSION_MAX_HOURS` after sign-in,
whichever comes first. The CSRF token of every form is
an HMAC of the session id: it changes with each session and needs no column.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_

from services.access import Principal, Role
from services.db import UnitOfWorkFactory
from services.models import StaffSession


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, and the token its forms must carry."""

    principal: Principal
    display_name: str
    id_token: str
    csrf_token: str
    created_at: datetime


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"personel-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_id: str, offered: str) -> bool:
    return hmac.compare_digest(csrf_token(session_id), offered or "")


def create(
    uow_factory: UnitOfWorkFactory,
    principal: Principal,
    *,
    display_name: str,
    id_token: str,
    provider_sid: str | None = None,
    provider_subject: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new session for a signed-in member of staff; returns the id for the cookie (never stored)."""
    now = now or datetime.now(UTC)
    session_id = secrets.token_urlsafe(32)
    with uow_factory() as uow:
        uow.session.add(
            StaffSession(
                id_hash=digest(session_id),
                username=principal.username,
                display_name=display_name[:200] or principal.username,
                roles=sorted(principal.roles),
                directorate=principal.directorate,
                id_token=id_token,
                provider_sid=provider_sid,
                provider_subject=provider_subject,
                created_at=now,
                last_seen_at=now,
            )
        )
        uow.commit()
    return session_id


def resume(
    uow_factory: UnitOfWorkFactory, session_id: str | None, limits: Limits, *, now: datetime | None = None
) -> SignedIn | None:
    """The session of this cookie, touched (its idle time starts again); None when there is none or
    it ran out (an expired one is deleted)."""
    if not session_id:
        return None
    now = now or datetime.now(UTC)
    with uow_factory() as uow:
        row = uow.session.get(StaffSession, digest(session_id), with_for_update=True)
        if row is None:
            return None
        if row.last_seen_at + limits.idle <= now or row.created_at + limits.absolute <= now:
            uow.session.delete(row)
            uow.commit()
            return None
        row.last_seen_at = now
        signed_in = SignedIn(
            principal=Principal.staff(
                row.username, {Role(r) for r in row.roles if r in Role._value2member_map_}, row.directorate
            ),
            display_name=row.display_name,
            id_token=row.id_token,
            csrf_token=csrf_token(session_id),
            created_at=row.created_at,
        )
        uow.commit()
        return signed_in


def end(uow_factory: UnitOfWorkFactory, session_id: str | None) -> None:
    """Logout: the session is gone, whatever the cookie still says."""
    if not session_id:
        return
    with uow_factory() as uow:
        uow.session.execute(delete(StaffSession).where(StaffSession.id_hash == digest(session_id)))
        uow.commit()


def end_at_provider(uow_factory: UnitOfWorkFactory, *, sid: str | None, subject: str | None) -> int:
    """Back-channel logout: the provider ended its session `sid` (only those of ours opened in it
    end) or, without a sid, every session of its user `subject`. Returns how many ended."""
    if sid:
        condition = StaffSession.provider_sid == sid
    elif subject:
        condition = StaffSession.provider_subject == subject
    else:
        return 0
    with uow_factory() as uow:
        result = uow.session.execute(delete(StaffSession).where(condition))
        uow.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def forget_expired(uow_factory: UnitOfWorkFactory, limits: Limits, *, now: datetime | None = None) -> int:
    """Delete the sessions that ran out (those never used again would otherwise stay)."""
    now = now or datetime.now(UTC)
    with uow_factory() as uow:
        result = uow.session.execute(
            delete(StaffSession).where(
                or_(
                    StaffSession.last_seen_at <= now - limits.idle,
                    StaffSession.created_at <= now - limits.absolute,
                )
            )
        )
        uow.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
