"""Duplicate requests on real PostgreSQL (earthdistance, rolled back per test): who is a candidate,
merging into the root of a chain, refusals, redelivery, and whom the primary's answer reaches."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from services.citizen_requests import new_tracking_code
from services.duplicates import MergeRefused, candidate_query, followers, merge, possible_duplicates
from services.models import CitizenRequest, RequestEvent

EARTH_RADIUS_M = 6_378_168  # earthdistance's earth()
MERSIN = (36.8121, 34.6415)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point `metres` due north (along a meridian the great-circle distance is R·Δφ)."""
    return point[0] + math.degrees(metres / EARTH_RADIUS_M), point[1]


@pytest.fixture()
def session(database_url: str) -> Iterator[Session]:
    engine = create_engine(database_url)
    connection = engine.connect()
    transaction = connection.begin()
    try:
        with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
            yield s
    finally:
        transaction.rollback()
        connection.close()
        engine.dispose()


@pytest.fixture()
def category() -> str:
    """A category of this test alone."""
    return f"CUKUR-{uuid.uuid4().hex[:8].upper()}"


def add(
    session: Session,
    category: str | None,
    point: tuple[float, float] | None = MERSIN,
    *,
    received_at: datetime = NOW,
    closed: bool = False,
) -> CitizenRequest:
    request = CitizenRequest(
        id=uuid.uuid4(),
        tracking_code=new_tracking_code(),
        channel="web",
        channel_reference=str(uuid.uuid4()),
        request_type="istek",
        category_code=category,
        description="Yolda çukur var.",
        latitude=point[0] if point else None,
        longitude=point[1] if point else None,
        status="kapatildi" if closed else "mudurlukte",
        received_at=received_at,
        closed_at=received_at + timedelta(hours=1) if closed else None,
    )
    session.add(request)
    session.flush()
    return request


def candidates(session: Session, request: CitizenRequest, **options: Any) -> list[uuid.UUID]:
    return [c.request_id for c in possible_duplicates(session, request.id, **options)]


# ---------------------------------------------------------------- candidates


def test_49_metres_away_is_a_candidate_51_is_not(session: Session, category: str) -> None:
    near = add(session, category, north_of(MERSIN, 49), received_at=NOW - timedelta(hours=2))
    add(session, category, north_of(MERSIN, 51), received_at=NOW - timedelta(hours=1))
    new = add(session, category)

    found = possible_duplicates(session, new.id)

    assert [c.request_id for c in found] == [near.id]
    assert found[0].distance_m == pytest.approx(49, abs=0.01)
    assert found[0].tracking_code == near.tracking_code
    assert found[0].status == "mudurlukte"
    assert found[0].received_at == NOW - timedelta(hours=2)


def test_radius_is_configurable_and_nearest_come_first_then_oldest(session: Session, category: str) -> None:
    far = add(session, category, north_of(MERSIN, 51), received_at=NOW - timedelta(hours=3))
    near_new = add(session, category, north_of(MERSIN, 10), received_at=NOW - timedelta(hours=1))
    near_old = add(session, category, north_of(MERSIN, 10), received_at=NOW - timedelta(hours=2))
    new = add(session, category)

    assert candidates(session, new, radius_m=60) == [near_old.id, near_new.id, far.id]
    assert candidates(session, new, radius_m=60, limit=2) == [near_old.id, near_new.id]


def test_other_category_closed_and_merged_requests_are_not_candidates(
    session: Session, category: str
) -> None:
    add(session, "BASKA-KATEGORI", received_at=NOW - timedelta(hours=1))
    add(session, category, received_at=NOW - timedelta(hours=1), closed=True)
    primary = add(session, category, north_of(MERSIN, 30), received_at=NOW - timedelta(hours=3))
    merged = add(session, category, received_at=NOW - timedelta(hours=2))
    merge(
        session,
        request_id=merged.id,
        into_tracking_code=primary.tracking_code,
        actor="a",
        idempotency_key="k1",
    )
    new = add(session, category)

    assert candidates(session, new) == [primary.id]


def test_only_the_period_before_the_request_counts(session: Session, category: str) -> None:
    older = add(session, category, received_at=NOW - timedelta(days=7, minutes=1))
    inside = add(session, category, received_at=NOW - timedelta(days=6, hours=23))
    new = add(session, category)
    later = add(session, category, received_at=NOW + timedelta(minutes=5))

    assert candidates(session, new) == [inside.id]
    assert candidates(session, new, period=timedelta(days=8)) == [older.id, inside.id]
    assert candidates(session, new, period=timedelta(days=6, hours=23)) == [inside.id]  # bounds included
    assert candidates(session, new, period=timedelta(days=1)) == []
    # The later one sees both earlier ones; the earlier never sees the later (it is the primary).
    assert candidates(session, later) == [inside.id, new.id]  # same place: oldest first
    assert later.id not in candidates(session, inside)


def test_same_instant_the_id_decides_which_one_is_earlier(session: Session, category: str) -> None:
    a, b = add(session, category), add(session, category)
    first, second = sorted([a, b], key=lambda r: r.id)

    assert candidates(session, second) == [first.id]
    assert candidates(session, first) == []


def test_without_coordinates_there_are_no_candidates(session: Session, category: str) -> None:
    add(session, category, None, received_at=NOW - timedelta(hours=1))
    add(session, category, received_at=NOW - timedelta(hours=1))
    new = add(session, category, None)

    assert candidates(session, new) == []


def test_the_query_uses_the_location_index(session: Session) -> None:
    # 50 000 open requests over ~10 km around Mersin, in 20 categories.
    session.execute(
        text(
            """
            INSERT INTO citizen_requests (id, tracking_code, channel, channel_reference, request_type,
                category_code, description, latitude, longitude, status, received_at)
            SELECT gen_random_uuid(), 'T-' || i, 'web', 'gen-' || i, 'istek', 'GEN-' || (i % 20),
                'üretildi', 36.77 + random() * 0.09, 34.59 + random() * 0.11, 'mudurlukte',
                now() - random() * interval '30 days'
            FROM generate_series(1, 50000) AS i
            """
        )
    )
    session.execute(text("ANALYZE citizen_requests"))
    new = add(session, "GEN-3", received_at=datetime.now(UTC))

    query = candidate_query(new, radius_m=50, period=timedelta(days=7), limit=5)
    assert query is not None
    compiled = query.compile(dialect=session.get_bind().dialect)
    plan = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()

    assert any("Index Scan on ix_citizen_requests_open_location" in line for line in plan), plan


# ---------------------------------------------------------------- merging


def events(session: Session, request: CitizenRequest) -> list[RequestEvent]:
    return list(
        session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.at)
        )
    )


def test_merge_marks_the_duplicate_and_records_both_histories(session: Session, category: str) -> None:
    primary = add(session, category, received_at=NOW - timedelta(hours=1))
    duplicate = add(session, category)

    result = merge(
        session,
        request_id=duplicate.id,
        into_tracking_code=primary.tracking_code.lower(),
        actor="memur.ayşe",
        idempotency_key="merge:1",
    )

    assert (result.request_id, result.primary_id, result.primary_tracking_code) == (
        duplicate.id,
        primary.id,
        primary.tracking_code,
    )
    assert result.merged_now
    assert duplicate.merged_into_id == primary.id
    assert duplicate.status == "birlestirildi"
    assert duplicate.closed_at is None  # closed when the primary's answer reaches it
    [merged] = events(session, duplicate)
    assert (merged.event, merged.actor, merged.details) == (
        "birlestirildi",
        "memur.ayşe",
        {"into": primary.tracking_code},
    )
    assert (
        merged.public_text
        == f"Talebiniz aynı konudaki önceki bir taleple birleştirildi: {primary.tracking_code}."
    )
    [added] = events(session, primary)
    assert (added.event, added.details, added.public_text) == (
        "mukerrer-eklendi",
        {"duplicate": duplicate.tracking_code},
        None,
    )
    assert primary.status == "mudurlukte" and primary.merged_into_id is None


def test_merge_follows_the_targets_chain_to_its_root(session: Session, category: str) -> None:
    root = add(session, category, received_at=NOW - timedelta(hours=3))
    middle = add(session, category, received_at=NOW - timedelta(hours=2))
    merge(
        session, request_id=middle.id, into_tracking_code=root.tracking_code, actor="a", idempotency_key="m1"
    )
    new = add(session, category)

    result = merge(
        session, request_id=new.id, into_tracking_code=middle.tracking_code, actor="a", idempotency_key="m2"
    )

    assert result.primary_id == root.id and result.primary_tracking_code == root.tracking_code
    assert new.merged_into_id == root.id
    assert events(session, new)[0].details == {"into": root.tracking_code}
    assert [e.details for e in events(session, root)] == [
        {"duplicate": middle.tracking_code},
        {"duplicate": new.tracking_code},
    ]
    assert events(session, middle)[-1].event == "birlestirildi"  # nothing added to the link between


def test_a_redelivered_merge_changes_nothing(session: Session, category: str) -> None:
    primary = add(session, category, received_at=NOW - timedelta(hours=1))
    duplicate = add(session, category)
    first = merge(
        session,
        request_id=duplicate.id,
        into_tracking_code=primary.tracking_code,
        actor="a",
        idempotency_key="k",
    )

    again = merge(
        session,
        request_id=duplicate.id,
        into_tracking_code=primary.tracking_code,
        actor="a",
        idempotency_key="k",
    )

    assert not again.merged_now
    assert (again.request_id, again.primary_id, again.primary_tracking_code) == (
        first.request_id,
        first.primary_id,
        first.primary_tracking_code,
    )
    assert len(events(session, duplicate)) == 1 and len(events(session, primary)) == 1
    with pytest.raises(MergeRefused, match="zaten başka bir taleple birleştirilmiş"):
        merge(
            session,
            request_id=duplicate.id,
            into_tracking_code=primary.tracking_code,
            actor="a",
            idempotency_key="other",
        )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown", "Birleştirilecek talep bulunamadı: BI-YOK."),
        ("itself", "Talep kendisiyle birleştirilemez."),
        ("cycle", "Talep kendisiyle birleştirilemez ({middle}, {request} ile birleştirilmiş)."),
        ("no category", "Bu talebin kategorisi yok; önce bir müdürlüğe yönlendirilmeli."),
        ("closed target", "Birleştirilecek talep kapatılmış: {target}."),
        ("closed root", "Birleştirilecek talep kapatılmış: {root} ({target}, {root} ile birleştirilmiş)."),
        ("closed request", "Bu talep kapatılmış; kapatılmış bir talep birleştirilemez."),
        ("other category", "Talepler aynı kategoride değil: bu talep {category}, {target} BASKA."),
        (
            "later target",
            "{target} bu talepten sonra alınmış; bir talep yalnızca önceki bir talebe birleştirilebilir.",
        ),
    ],
)
def test_merge_refusals_say_which_rule(session: Session, category: str, case: str, message: str) -> None:
    request = add(session, None if case == "no category" else category, closed=case == "closed request")
    target_code = "BI-YOK"
    middle_code = root_code = ""
    if case == "itself":
        target_code = request.tracking_code
    elif case == "cycle":
        # A later request merged into this one: merging this one into it would close a circle.
        middle = add(session, category, received_at=NOW + timedelta(hours=1))
        merge(
            session,
            request_id=middle.id,
            into_tracking_code=request.tracking_code,
            actor="a",
            idempotency_key="c",
        )
        target_code, middle_code = middle.tracking_code, middle.tracking_code
    elif case == "closed root":
        root = add(session, category, received_at=NOW - timedelta(hours=2))
        target = add(session, category, received_at=NOW - timedelta(hours=1))
        merge(
            session,
            request_id=target.id,
            into_tracking_code=root.tracking_code,
            actor="a",
            idempotency_key="c",
        )
        root.closed_at = NOW  # answered, and its answer went to target too
        session.flush()
        target_code, root_code = target.tracking_code, root.tracking_code
    elif case in ("closed target", "closed request", "other category", "later target", "no category"):
        target = add(
            session,
            {"other category": "BASKA", "no category": None}.get(case, category),
            received_at=NOW + timedelta(hours=1) if case == "later target" else NOW - timedelta(hours=1),
            closed=case == "closed target",
        )
        target_code = target.tracking_code

    with pytest.raises(MergeRefused) as refused:
        merge(session, request_id=request.id, into_tracking_code=target_code, actor="a", idempotency_key="r")

    assert str(refused.value) == message.format(
        target=target_code,
        middle=middle_code,
        root=root_code,
        request=request.tracking_code,
        category=category,
    )
    assert request.merged_into_id is None
    assert "birlestirildi" not in [e.event for e in events(session, request)]


def test_followers_are_the_whole_tree_oldest_first(session: Session, category: str) -> None:
    root = add(session, category, received_at=NOW - timedelta(hours=5))
    other = add(session, category, north_of(MERSIN, 500), received_at=NOW - timedelta(hours=5))
    b = add(session, category, received_at=NOW - timedelta(hours=4))
    c = add(session, category, received_at=NOW - timedelta(hours=3))
    d = add(session, category, received_at=NOW - timedelta(hours=2))
    merge(session, request_id=c.id, into_tracking_code=b.tracking_code, actor="a", idempotency_key="f1")
    merge(session, request_id=d.id, into_tracking_code=c.tracking_code, actor="a", idempotency_key="f2")
    # b (with c and d already on it) joins root afterwards: they reach root through b.
    merge(session, request_id=b.id, into_tracking_code=root.tracking_code, actor="a", idempotency_key="f3")
    add(session, category, received_at=NOW - timedelta(hours=1))  # not merged

    assert followers(session, root.id) == [b.id, c.id, d.id]
    assert followers(session, b.id) == [c.id, d.id]
    assert followers(session, d.id) == []
    assert followers(session, other.id) == []
