"""Keeping the monitoring summaries (migration 0018) up to date, incrementally.

Triggers put the id of every request whose figures may have changed into `indicator_dirty` (a
history entry, the request row, a nonconformity, an objection, a rating). `refresh` takes those ids
in batches, recomputes their rows in `indicator_requests` from our own tables, and adds the
difference between each request's row before and after to the cells it falls in: `indicator_daily`
(counts per day of receipt × directorate × category × channel), `indicator_durations` (working-day
histograms per day × directorate × channel) and their monthly twins `indicator_monthly`,
`indicator_durations_monthly` (a year's report reads twelve months, not 365 days). A batch costs
what it holds, whatever the size of the days it touches. A queue filled
by triggers, not a watermark on `request_events.at`: `at` is the inserting transaction's clock,
and a transaction that commits after a later one would slip behind a watermark.

One refresh at a time (an advisory lock; a second caller returns at once). The workers process
runs it every INDICATOR_REFRESH_SECONDS (workers/main.py); tests and the benchmark call it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from services.config import get_settings
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
    -- A reopened request's first due date: the one its last routing before the first answer set.
    LEFT JOIN LATERAL (
        SELECT (e.details ->> 'dueAt')::timestamptz AS due_at FROM request_events e
        WHERE coalesce(ev.reopened, false) AND e.request_id = r.id AND e.event = 'yonlendirildi'
          AND e.details ? 'dueAt' AND (ev.first_answer_at IS NULL OR e.at <= ev.first_answer_at)
        ORDER BY e.at DESC LIMIT 1
    ) fp ON true
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

# How each count of a cell is summed from signed request rows (−1: the row before, +1: after).
_COUNTED = {
    "requests": "true",
    "answered": "c.first_answer_at IS NOT NULL",
    "due_answered": "c.first_answer_at IS NOT NULL AND c.first_due_at IS NOT NULL",
    "on_time": "c.on_time",
    "closed": "c.closed_at IS NOT NULL",
    "reopened": "c.reopened",
    "redirected": "c.redirected",
    "wrong_directorate": "c.wrong_directorate",
    "info_requested": "c.info_requested",
    "info_unanswered": "c.info_unanswered",
    "nonconforming": "c.nonconforming",
    "objected": "c.objected",
    "objection_upheld": "c.objection_upheld",
    "objection_rejected": "c.objection_rejected",
    "objection_open": "c.objection_open",
    "invited": "c.invited",
    "rated": "c.rating IS NOT NULL",
    "rated_invited": "c.rating IS NOT NULL AND c.invited",
    "rating_low": f"c.rating <= {LOW_RATING}",
}
_DAY = {"daily": "c.received_day", "monthly": "date_trunc('month', c.received_day)::date"}


def _counts_delta(table: str, day: str) -> str:
    """Add the batch's change to the cells it touches, then drop the cells left empty."""
    sums = [f"coalesce(sum(c.sign) FILTER (WHERE {cond}), 0)" for cond in _COUNTED.values()]
    sums.append("coalesce(sum(c.sign * c.rating), 0)")
    columns = [*_COUNTED, "rating_sum"]
    return (
        f"INSERT INTO {table} AS t (day, directorate_code, category_code, channel, {', '.join(columns)})"
        f" SELECT {day}, c.directorate_code, c.category_code, c.channel, {', '.join(sums)}"
        " FROM indicator_change c GROUP BY 1, 2, 3, 4"
        " ON CONFLICT (day, directorate_code, category_code, channel) DO UPDATE SET "
        + ", ".join(f"{col} = t.{col} + excluded.{col}" for col in columns)
        + f"; DELETE FROM {table} t USING (SELECT DISTINCT {day} AS day, c.directorate_code,"
        " c.category_code, c.channel FROM indicator_change c) k WHERE t.day = k.day"
        " AND t.directorate_code = k.directorate_code AND t.category_code = k.category_code"
        " AND t.channel = k.channel AND t.requests = 0"
    )


def _histogram_delta(table: str, day: str) -> str:
    return (
        f"INSERT INTO {table} AS t (day, directorate_code, channel, kind, wd, n)"
        f" SELECT {day}, c.directorate_code, c.channel, d.kind, d.wd, sum(c.sign)"
        " FROM indicator_change c CROSS JOIN LATERAL (VALUES ('yanit', c.answer_wd),"
        " ('kapanis', c.close_wd)) AS d (kind, wd) WHERE d.wd IS NOT NULL GROUP BY 1, 2, 3, 4, 5"
        " HAVING sum(c.sign) <> 0"
        " ON CONFLICT (day, directorate_code, channel, kind, wd) DO UPDATE SET n = t.n + excluded.n"
        f"; DELETE FROM {table} t USING (SELECT DISTINCT {day} AS day, c.directorate_code, c.channel"
        " FROM indicator_change c) k WHERE t.day = k.day AND t.directorate_code = k.directorate_code"
        " AND t.channel = k.channel AND t.n = 0"
    )


_DELTAS = (
    _counts_delta("indicator_daily", _DAY["daily"]),
    _counts_delta("indicator_monthly", _DAY["monthly"]),
    _histogram_delta("indicator_durations", _DAY["daily"]),
    _histogram_delta("indicator_durations_monthly", _DAY["monthly"]),
)
SUMMARIES = (
    "indicator_requests",
    "indicator_daily",
    "indicator_monthly",
    "indicator_durations",
    "indicator_durations_monthly",
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
            "CREATE TEMP TABLE IF NOT EXISTS indicator_change ON COMMIT DROP AS"
            " SELECT 0 AS sign, * FROM indicator_requests WITH NO DATA"
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
    """Recompute one batch of stale requests; the summaries change by the difference between
    their rows before and after (so a batch costs what it holds, not what its days hold)."""
    session.execute(text("TRUNCATE indicator_batch, indicator_change"))
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
    rows = "SELECT {sign}, f.* FROM indicator_requests f JOIN indicator_batch b USING (request_id)"
    session.execute(text("INSERT INTO indicator_change " + rows.format(sign=-1)))
    session.execute(
        text("DELETE FROM indicator_requests f USING indicator_batch b WHERE f.request_id = b.request_id")
    )
    session.execute(text(_FACTS))
    session.execute(text("INSERT INTO indicator_change " + rows.format(sign=1)))
    session.execute(text("ANALYZE indicator_change"))
    for delta in _DELTAS:
        for statement in delta.split("; "):
            session.execute(text(statement))
    return int(taken)


def rebuild(session: Session, *, now: datetime) -> int | None:
    """Recompute every summary from scratch: after a bulk load with the triggers off (the
    benchmark), or should the summaries ever be in doubt."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bring the monitoring summaries up to date")
    parser.add_argument("--rebuild", action="store_true", help="recompute every summary from scratch")
    args = parser.parse_args(argv)
    engine = create_engine(get_settings().database_url)
    try:
        if args.rebuild:
            with Session(engine) as session:
                done = rebuild(session, now=datetime.now(UTC))
                session.commit()
        else:
            done = refresh_once(engine)
    finally:
        engine.dispose()
    sys.stdout.write(
        f"monitoring summaries: {'another refresh is running' if done is None else done} recomputed\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
