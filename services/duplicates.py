"""Duplicate requests: the same category, reported within a short distance and period of an open one.

Staff see the possible duplicates on a request's task and may merge it into one of them. The
earlier request is the primary: it is worked, and its answer goes to every request merged into it
(`followers`); a merged request is never worked itself.

"Same place" is PostgreSQL's earthdistance (cube-based, a spherical Earth of radius 6 378 168 m):
`earth_box(...) @> request_location(...)` (that is `ll_to_earth`, see migration 0014) narrows
through the GiST index of open requests' locations (`ix_citizen_requests_open_location`),
`earth_distance` makes the exact cut and the order. Only coordinates are compared: a request with
an address text alone has no candidates, as free-text addresses say the same place in too many
ways to compare safely.

A merged request keeps `closed_at` NULL: it is closed when the primary's answer reaches it. Closing
it at the merge would start its KVKK retention clock (and so the anonymisation of the contact the
answer still has to reach) before its citizen has been answered, and count it as resolved in the
service-time reports while nothing was done yet. `merged_into_id` alone keeps it off the open list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Select, func, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import Function

# A module import: citizen_requests imports this module too (routing lists the duplicates).
from services import citizen_requests as requests
from services.models import CitizenRequest, RequestEvent

MERGED = "birlestirildi"
DUPLICATE_ADDED = "mukerrer-eklendi"


class MergeRefused(ValueError):
    """A merge the rules do not allow; the message (Turkish) says which rule."""


@dataclass(frozen=True)
class Candidate:
    request_id: uuid.UUID
    tracking_code: str
    received_at: datetime
    distance_m: float
    status: str


@dataclass(frozen=True)
class Merge:
    """What the citizen of the duplicate is told: it was joined to the primary."""

    request_id: uuid.UUID
    tracking_code: str
    primary_id: uuid.UUID
    primary_tracking_code: str
    merged_now: bool  # False: the key had merged it before, nothing changed


def _stored(request: type[CitizenRequest]) -> Function[Any]:
    """A stored request's place as the index has it: ll_to_earth with a pinned search path."""
    return func.request_location(request.latitude, request.longitude)


def possible_duplicates(
    session: Session,
    request_id: uuid.UUID,
    *,
    radius_m: float = 50,
    period: timedelta = timedelta(days=7),
    limit: int = 5,
) -> list[Candidate]:
    """Open requests of the same category received within `period` before this one and within
    `radius_m` of it, nearest first, then oldest."""
    request = session.get(CitizenRequest, request_id)
    if request is None:
        raise requests.RequestNotFound(str(request_id))
    query = candidate_query(request, radius_m=radius_m, period=period, limit=limit)
    if query is None:
        return []
    return [
        Candidate(r.id, r.tracking_code, r.received_at, r.distance, r.status) for r in session.execute(query)
    ]


def candidate_query(
    request: CitizenRequest, *, radius_m: float, period: timedelta, limit: int
) -> Select[tuple[uuid.UUID, str, datetime, float, str]] | None:
    """The statement behind possible_duplicates; None when the request has no place or category."""
    if request.latitude is None or request.longitude is None or request.category_code is None:
        return None
    c = CitizenRequest
    here = func.ll_to_earth(request.latitude, request.longitude)
    distance = func.earth_distance(here, _stored(c), type_=Float).label("distance")
    return (
        select(c.id, c.tracking_code, c.received_at, distance, c.status)
        .where(
            # The index's predicate, spelled out so that the planner sees it holds.
            c.closed_at.is_(None),
            c.merged_into_id.is_(None),
            c.latitude.is_not(None),
            c.longitude.is_not(None),
            func.earth_box(here, float(radius_m)).op("@>")(_stored(c)),
            distance <= float(radius_m),
            c.category_code == request.category_code,
            c.received_at >= request.received_at - period,
            # Strictly earlier (the id breaks a tie): of two requests only the later one sees the other.
            tuple_(c.received_at, c.id) < tuple_(request.received_at, request.id),
        )
        .order_by(distance, c.received_at, c.id)
        .limit(limit)
    )


def _root_id(session: Session, request_id: uuid.UUID) -> uuid.UUID:
    """The end of the request's merged_into chain (the request itself when not merged)."""
    up = select(CitizenRequest.id, CitizenRequest.merged_into_id).where(CitizenRequest.id == request_id)
    chain = up.cte("chain", recursive=True)
    chain = chain.union(
        select(CitizenRequest.id, CitizenRequest.merged_into_id).join(
            chain, CitizenRequest.id == chain.c.merged_into_id
        )
    )
    root: uuid.UUID | None = session.scalar(select(chain.c.id).where(chain.c.merged_into_id.is_(None)))
    assert root is not None, "a merged_into chain ends at an unmerged request"
    return root


def _lock(session: Session, *ids: uuid.UUID) -> dict[uuid.UUID, CitizenRequest]:
    """Lock the rows in id order (two opposite merges wait, not deadlock) and read them afresh."""
    rows = session.scalars(
        select(CitizenRequest)
        .where(CitizenRequest.id.in_(ids))
        .order_by(CitizenRequest.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}


def merge(
    session: Session, *, request_id: uuid.UUID, into_tracking_code: str, actor: str, idempotency_key: str
) -> Merge:
    """Merge the request into the one with `into_tracking_code` (or the root of its own merges).

    Records `birlestirildi` on the duplicate (its citizen sees it) and `mukerrer-eklendi` on the
    primary (no public text: the primary's citizen is not shown another citizen's number). The
    caller commits. The same key again returns the first result and changes nothing.
    """
    target = session.scalar(
        select(CitizenRequest).where(CitizenRequest.tracking_code == into_tracking_code.strip().upper())
    )
    if target is None:
        raise MergeRefused(f"Birleştirilecek talep bulunamadı: {into_tracking_code}.")
    for _ in range(5):  # the root may itself be merged by someone else before we lock it
        root_id = _root_id(session, target.id)
        locked = _lock(session, request_id, root_id)
        request, root = locked.get(request_id), locked[root_id]
        if request is None:
            raise requests.RequestNotFound(str(request_id))
        done = _merged_before(session, request, idempotency_key)
        if done is not None:
            return done
        if root.merged_into_id is None:
            break
    else:
        raise MergeRefused("Birleştirilecek talep şu anda başka bir birleştirmede; tekrar deneyin.")
    _check(request, target, root)
    request.merged_into_id = root.id
    request.status = MERGED
    requests.add_event(
        session,
        request.id,
        MERGED,
        actor=actor,
        details={"into": root.tracking_code},
        idempotency_key=idempotency_key,
        onceki_takip_no=root.tracking_code,
    )
    requests.add_event(
        session,
        root.id,
        DUPLICATE_ADDED,
        actor=actor,
        details={"duplicate": request.tracking_code},
        idempotency_key=f"{idempotency_key}:primary",
    )
    session.flush()
    return Merge(request.id, request.tracking_code, root.id, root.tracking_code, merged_now=True)


def _merged_before(session: Session, request: CitizenRequest, idempotency_key: str) -> Merge | None:
    event = session.scalar(select(RequestEvent).where(RequestEvent.idempotency_key == idempotency_key))
    if event is None:
        return None
    if event.request_id != request.id or event.event != MERGED:
        raise ValueError(f"idempotency key {idempotency_key!r} belongs to another step")
    into = event.details["into"]
    primary_id = session.scalar(select(CitizenRequest.id).where(CitizenRequest.tracking_code == into))
    assert primary_id is not None
    return Merge(request.id, request.tracking_code, primary_id, into, merged_now=False)


def _check(request: CitizenRequest, target: CitizenRequest, root: CitizenRequest) -> None:
    via = (
        "" if root.id == target.id else f" ({target.tracking_code}, {root.tracking_code} ile birleştirilmiş)"
    )
    if request.merged_into_id is not None:
        raise MergeRefused("Bu talep zaten başka bir taleple birleştirilmiş.")
    if request.closed_at is not None:
        raise MergeRefused("Bu talep kapatılmış; kapatılmış bir talep birleştirilemez.")
    if request.category_code is None:
        raise MergeRefused("Bu talebin kategorisi yok; önce bir müdürlüğe yönlendirilmeli.")
    if root.id == request.id:
        raise MergeRefused(f"Talep kendisiyle birleştirilemez{via}.")
    if root.closed_at is not None:
        raise MergeRefused(f"Birleştirilecek talep kapatılmış: {root.tracking_code}{via}.")
    if root.category_code != request.category_code:
        raise MergeRefused(
            f"Talepler aynı kategoride değil: bu talep {request.category_code or '-'}, "
            f"{root.tracking_code} {root.category_code or '-'}."
        )
    if (root.received_at, root.id) > (request.received_at, request.id):
        raise MergeRefused(
            f"{root.tracking_code} bu talepten sonra alınmış; bir talep yalnızca önceki bir talebe "
            "birleştirilebilir."
        )


def followers(session: Session, primary_id: uuid.UUID) -> list[uuid.UUID]:
    """Every request merged into this one, directly or through another, oldest first."""
    down = select(CitizenRequest.id).where(CitizenRequest.merged_into_id == primary_id)
    tree = down.cte("followers", recursive=True)
    tree = tree.union(select(CitizenRequest.id).join(tree, CitizenRequest.merged_into_id == tree.c.id))
    return list(
        session.scalars(
            select(CitizenRequest.id)
            .where(CitizenRequest.id.in_(select(tree.c.id)))
            .order_by(CitizenRequest.received_at, CitizenRequest.id)
        )
    )
