"""Keeping the monitoring summaries (migration 0018) up to date, incrementally.

Triggers put the id of every request whose figures may have changed into `indicator_dirty` (a
history entry, the request row, a nonconformity, an objection, a rating). `refresh` takes those ids
in batches, recomputes their rows in `indicator_requests` from our own tables, and re-sums the
daily cells (day of receipt × directorate × category × channel) that the old or the new rows fall
in: `indicator_daily` (counts) and `indicator_durations` (working-day histograms, per day,
directorate and channel), then the months those days are in (`indicator_monthly`,
`indicator_durations_monthly`: a year's report reads twelve months, not 365 days). A queue filled
by triggers, not a watermark on `request_events.at`: `at` is the inserting transaction's clock,
and a transaction that commits after a later one would slip behind a watermark.

One refresh at a time (an advisory lock; a second caller returns at once). The workers process
runs it every INDICATOR_REFRESH_SECONDS (workers/main.py); tests and the benchmark call it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from services.working_days import ISTANBUL, is_working_day

log = logging.getLogger(__name__)
# pg_advisory_xact_lock key: "indicators" as a number of our own.
LOCK_KEY = 15_0018
CALENDAR_ORIGIN = date(2015, 1, 1)
# The calendar reaches this far past today (due dates lie ahead of the requests).
CALENDAR_AHEAD = timedelta(days=3 * 366)
LOW_RATING = 2  # a rating of 1 or 2 out of 5 is low
SUMS = (
    "requests",
    "answered",
    "due_answered",
    "on_time",
    "closed",
    "reopened",
    "redirected",
    "wrong_directorate",
    "info_requested",
    "info_unanswered",
    "nonconforming",
    "objected",
    "objection_upheld",
    "objection_rejected",
    "objection_open",
    "invited",
    "rated",
    "rated_invited",
    "rating_sum",
    "rating_low",
)

CELL_JOIN = (
    "k.day = f.received_day AND k.directorate_code = f.directorate_code"
    " AND k.category_code = f.category_code AND k.channel = f.channel"
)

_FACTS = """
WITH ev AS (
    SELECT e.request_id,
        min(e.at) FILTER (WHERE e.event IN ('yanitlandi', 'kuruma-yonlendirildi')) AS first_answer_at,
        bool_or(e.event = 'yeniden-acildi') AS reopened,
        bool_or(e.event = 'kuruma-yonlendirildi') AS redirected,
        bool_or(e.event = 'mudurluk-degerlendirmesi'
                AND e.details ->> 'outcome' = 'yanlis-mudurluk') AS wrong_directorate,
        bool_or(e.event = 'bilgi-istendi') AS info_requested,
        bool_or(e.event = 'vatandas-yanit-vermedi') AS info_unanswered,
        bool_or(e.event = 'memnuniyet-daveti-gonderildi'
                AND coalesce(e.details ->> 'sent', 'true') = 'true') AS invited
    FROM request_events e JOIN indicator_batch b USING (request_id)
    GROUP BY e.request_id
), first_period AS (
    -- A reopened request's first due date: the one the last routing before its first answer set.
    SELECT DISTINCT ON (e.request_id) e.request_id, (e.details ->> 'dueAt')::timestamptz AS due_at
    FROM request_events e JOIN ev USING (request_id)
    WHERE ev.reopened AND e.event = 'yonlendirildi' AND e.details ? 'dueAt'
      AND (ev.first_answer_at IS NULL OR e.at <= ev.first_answer_at)
    ORDER BY e.request_id, e.at DESC
), obj AS (
    SELECT o.request_id,
        bool_or(o.status = 'yeniden-acildi') AS upheld,
        bool_or(o.status = 'kapanis-onaylandi') AS rejected,
        bool_or(o.status = 'acik') AS open
    FROM objections o JOIN indicator_batch b USING (request_id)
    GROUP BY o.request_id
), t AS (
    SELECT r.id, r.received_at, r.channel, r.due_at, r.closed_at,
        coalesce(r.category_code, '') AS category_code,
        coalesce(r.directorate_code, '') AS directorate_code,
        (r.received_at AT TIME ZONE 'Europe/Istanbul')::date AS received_day,
        ev.first_answer_at,
        CASE WHEN coalesce(ev.reopened, false) THEN fp.due_at ELSE r.due_at END AS first_due_at,
        ev.reopened, ev.redirected, ev.wrong_directorate, ev.info_requested, ev.info_unanswered,
        ev.invited, obj.request_id IS NOT NULL AS objected, obj.upheld, obj.rejected, obj.open,
        EXISTS (SELECT 1 FROM nonconformities n WHERE n.request_id = r.id) AS nonconforming,
        s.score
    FROM indicator_batch b
    JOIN citizen_requests r ON r.id = b.request_id
    LEFT JOIN ev ON ev.request_id = r.id
    LEFT JOIN first_period fp ON fp.request_id = r.id
    LEFT JOIN obj ON obj.request_id = r.id
    LEFT JOIN satisfaction_ratings s ON s.request_id = r.id
    WHERE r.merged_into_id IS NULL
)
INSERT INTO indicator_requests (
    request_id, received_at, received_day, channel, category_code, directorate_code, due_at,
    first_due_at, first_answer_at, closed_at, answer_wd, close_wd, on_time, reopened, redirected,
    wrong_directorate, info_requested, info_unanswered, nonconforming, objected, objection_upheld,
    objection_rejected, objection_open, invited, rating)
SELECT t.id, t.received_at, t.received_day, t.channel, t.category_code, t.directorate_code, t.due_at,
    t.first_due_at, t.first_answer_at, t.closed_at,
    ca.wd_index - cr.wd_index, cc.wd_index - cr.wd_index,
    coalesce(t.first_answer_at <= t.first_due_at, false),
    coalesce(t.reopened, false), coalesce(t.redirected, false), coalesce(t.wrong_directorate, false),
    coalesce(t.info_requested, false), coalesce(t.info_unanswered, false), t.nonconforming, t.objected,
    coalesce(t.upheld, false), coalesce(t.rejected, false), coalesce(t.open, false),
    coalesce(t.invited, false), t.score
FROM t
JOIN working_calendar cr ON cr.day = t.received_day
LEFT JOIN working_calendar ca ON ca.day = (t.first_answer_at AT TIME ZONE 'Europe/Istanbul')::date
LEFT JOIN working_calendar cc ON cc.day = (t.closed_at AT TIME ZONE 'Europe/Istanbul')::date
"""

_DAILY = f"""
INSERT INTO indicator_daily (day, directorate_code, category_code, channel, requests, answered,
    due_answered, on_time, closed, reopened, redirected, wrong_directorate, info_requested,
    info_unanswered, nonconforming, objected, objection_upheld, objection_rejected, objection_open,
    invited, rated, rated_invited, rating_sum, rating_low)
SELECT f.received_day, f.directorate_code, f.category_code, f.channel, count(*),
    count(f.first_answer_at),
    count(*) FILTER (WHERE f.first_answer_at IS NOT NULL AND f.first_due_at IS NOT NULL),
    count(*) FILTER (WHERE f.on_time), count(f.closed_at), count(*) FILTER (WHERE f.reopened),
    count(*) FILTER (WHERE f.redirected), count(*) FILTER (WHERE f.wrong_directorate),
    count(*) FILTER (WHERE f.info_requested), count(*) FILTER (WHERE f.info_unanswered),
    count(*) FILTER (WHERE f.nonconforming), count(*) FILTER (WHERE f.objected),
    count(*) FILTER (WHERE f.objection_upheld), count(*) FILTER (WHERE f.objection_rejected),
    count(*) FILTER (WHERE f.objection_open), count(*) FILTER (WHERE f.invited), count(f.rating),
    count(f.rating) FILTER (WHERE f.invited), coalesce(sum(f.rating), 0),
    count(*) FILTER (WHERE f.rating <= {LOW_RATING})
FROM indicator_requests f JOIN indicator_keys k ON {CELL_JOIN}
GROUP BY f.received_day, f.directorate_code, f.category_code, f.channel
"""

# Histograms have no category (that would multiply their rows): a category's come from the rows.
_DURATIONS = """
INSERT INTO indicator_durations (day, directorate_code, channel, kind, wd, n)
SELECT f.received_day, f.directorate_code, f.channel, d.kind, d.wd, count(*)
FROM indicator_requests f
JOIN (SELECT DISTINCT day, directorate_code, channel FROM indicator_keys) k
  ON k.day = f.received_day AND k.directorate_code = f.directorate_code AND k.channel = f.channel
CROSS JOIN LATERAL (VALUES ('yanit', f.answer_wd), ('kapanis', f.close_wd)) AS d (kind, wd)
WHERE d.wd IS NOT NULL
GROUP BY f.received_day, f.directorate_code, f.channel, d.kind, d.wd
"""

_MONTHS = "(SELECT DISTINCT date_trunc('month', day)::date AS day, {columns} FROM indicator_keys)"
_MONTHLY = f"""
INSERT INTO indicator_monthly (day, directorate_code, category_code, channel, {", ".join(SUMS)})
SELECT k.day, c.directorate_code, c.category_code, c.channel, {", ".join(f"sum(c.{s})" for s in SUMS)}
FROM {_MONTHS.format(columns="directorate_code, category_code, channel")} k
JOIN indicator_daily c ON c.day >= k.day AND c.day < (k.day + interval '1 month')::date
  AND c.directorate_code = k.directorate_code AND c.category_code = k.category_code AND c.channel = k.channel
GROUP BY k.day, c.directorate_code, c.category_code, c.channel
"""
_DURATIONS_MONTHLY = f"""
INSERT INTO indicator_durations_monthly (day, directorate_code, channel, kind, wd, n)
SELECT k.day, c.directorate_code, c.channel, c.kind, c.wd, sum(c.n)
FROM {_MONTHS.format(columns="directorate_code, channel")} k
JOIN indicator_durations c ON c.day >= k.day AND c.day < (k.day + interval '1 month')::date
  AND c.directorate_code = k.directorate_code AND c.channel = k.channel
GROUP BY k.day, c.directorate_code, c.channel, c.kind, c.wd
"""
# What each summary table is keyed by, beyond the day: (table, key columns, the keys' day).
_CLEARED = (
    ("indicator_daily", ("directorate_code", "category_code", "channel"), "k.day"),
    (
        "indicator_monthly",
        ("directorate_code", "category_code", "channel"),
        "date_trunc('month', k.day)::date",
    ),
    ("indicator_durations", ("directorate_code", "channel"), "k.day"),
    ("indicator_durations_monthly", ("directorate_code", "channel"), "date_trunc('month', k.day)::date"),
)


def ensure_calendar(session: Session, today: date) -> None:
    """Extend the calendar to CALENDAR_AHEAD past today; existing days never change (their index
    counts from a fixed origin), so rows already computed stay right."""
    last = session.scalar(text("SELECT max(day) FROM working_calendar"))
    target = today + CALENDAR_AHEAD
    if last is not None and last >= target:
        return
    if last is None:
        day, index = CALENDAR_ORIGIN, 0
    else:
        day = last + timedelta(days=1)
        index = session.scalar(text("SELECT wd_index FROM working_calendar WHERE day = :d"), {"d": last})
    rows = []
    while day <= target:
        working = is_working_day(day)
        index += int(working)
        rows.append({"day": day, "working": working, "wd_index": index})
        day += timedelta(days=1)
    session.execute(
        text("INSERT INTO working_calendar (day, working, wd_index) VALUES (:day, :working, :wd_index)"),
        rows,
    )


def refresh(session: Session, *, now: datetime, batch: int = 50_000, rounds: int | None = None) -> int | None:
    """Bring the summaries up to date (at most `rounds` batches); returns how many requests were
    recomputed, None when another refresh holds the lock. The caller commits."""
    if not session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}):
        return None
    ensure_calendar(session, now.astimezone(ISTANBUL).date())
    session.execute(
        text("CREATE TEMP TABLE IF NOT EXISTS indicator_batch (request_id uuid PRIMARY KEY) ON COMMIT DROP")
    )
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS indicator_keys (day date, directorate_code text,"
            " category_code text, channel text, PRIMARY KEY (day, directorate_code, category_code,"
            " channel)) ON COMMIT DROP"
        )
    )
    total, done = 0, 0
    while rounds is None or done < rounds:
        taken = _batch(session, batch)
        total, done = total + taken, done + 1
        if taken < batch:
            break
    return total


def _batch(session: Session, size: int) -> int:
    session.execute(text("TRUNCATE indicator_batch, indicator_keys"))
    taken = session.scalar(
        text(
            "WITH taken AS (DELETE FROM indicator_dirty WHERE request_id IN"
            " (SELECT request_id FROM indicator_dirty LIMIT :n FOR UPDATE SKIP LOCKED)"
            " RETURNING request_id), kept AS (INSERT INTO indicator_batch SELECT request_id FROM taken"
            " RETURNING 1) SELECT count(*) FROM kept"
        ),
        {"n": size},
    )
    if not taken:
        return 0
    session.execute(text("ANALYZE indicator_batch"))
    keys = (
        "INSERT INTO indicator_keys SELECT DISTINCT f.received_day, f.directorate_code, f.category_code,"
        " f.channel FROM indicator_requests f JOIN indicator_batch b USING (request_id)"
        " ON CONFLICT DO NOTHING"
    )
    session.execute(text(keys))
    session.execute(
        text("DELETE FROM indicator_requests f USING indicator_batch b WHERE f.request_id = b.request_id")
    )
    session.execute(text(_FACTS))
    session.execute(text(keys))
    session.execute(text("ANALYZE indicator_keys"))
    for table, columns, day in _CLEARED:
        same = " AND ".join(f"d.{c} = k.{c}" for c in columns)
        session.execute(text(f"DELETE FROM {table} d USING indicator_keys k WHERE d.day = {day} AND {same}"))
    for statement in (_DAILY, _DURATIONS, _MONTHLY, _DURATIONS_MONTHLY):
        session.execute(text(statement))
    return int(taken)


def rebuild(session: Session, *, now: datetime) -> int | None:
    """Mark every request and refresh: after a bulk load with the triggers off (the benchmark)."""
    session.execute(
        text("INSERT INTO indicator_dirty SELECT id FROM citizen_requests ON CONFLICT DO NOTHING")
    )
    return refresh(session, now=now, batch=10_000_000)


def refresh_once(engine: Engine, *, batch: int = 50_000) -> int | None:
    """Refresh everything stale, one committed transaction per batch (what the workers' loop runs);
    None when another process is refreshing."""
    total = 0
    while True:
        with Session(engine) as session:
            taken = refresh(session, now=datetime.now(UTC), batch=batch, rounds=1)
            session.commit()
        if taken is None:
            return total or None
        total += taken
        if taken < batch:
            return total


async def run_refresher(engine: Engine, *, every_seconds: float, stop: asyncio.Event) -> None:
    """The workers' loop: refresh every `every_seconds` until `stop` (a failed round is retried at
    the next; the stale marks stay in the queue)."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            done = await asyncio.to_thread(refresh_once, engine)
            if done:
                log.info("monitoring summaries: %d requests in %.2f s", done, time.monotonic() - started)
        except Exception as error:
            log.warning("monitoring summaries not refreshed this round: %s", type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
