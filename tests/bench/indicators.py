"""`make bench ARGS="--indicators"`: how fast the monitoring report is over a year of a metropolitan
municipality (issue #15: under 1 s for about 1.5 million requests).

Needs only PostgreSQL (not the engine, the API or the workers). In a database of its own
(`--indicator-database`, dropped and created again, migrated to head) it bulk-loads, with SQL
`generate_series`, a year of requests (2025) with their history at realistic rates — about six
history entries a request; 2 % never routed, 95 % answered, 2 % reopened, 1 % redirected to another
institution, 3 % sent back as the wrong directorate, 5 % with an information request (a third
unanswered), 1 % merged duplicates, 3 % nonconforming, 1 % objected, 80 % invited to rate and a
quarter of those rating — with nonconformities, DİFs (a fifth of the nonconformities) with actions
and approvals. The summary triggers are off while loading; then the full refresh (every request
marked) is timed, `report()` is timed for several filter sets (median and max of `--indicator-runs`),
and the incremental refresh after `--indicator-events` new history entries.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from services import charts, staff_sessions
from services.access import Principal, Role
from services.api.app import create_app
from services.bootstrap import bootstrap
from services.config import get_settings
from services.indicator_refresh import rebuild, refresh_once
from services.indicator_tables import Filters, Granularity
from services.indicators import behind, report

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
YEAR = Filters(date(2025, 1, 1), date(2025, 12, 31), granularity=Granularity.MONTH)
DIRECTORATES = 30
CATEGORIES = 150
TRIGGERED = ("citizen_requests", "request_events", "nonconformities", "objections", "satisfaction_ratings")

# Per request: random draws r1…r7 decide its shape (see the module's rates).
PLAN = """
SELECT setseed(0.15);
CREATE UNLOGGED TABLE bench_plan AS
WITH base AS (
    SELECT i, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
        random() AS r6, random() AS r7
    FROM generate_series(1, :n) AS i
), shaped AS (
    SELECT i, r4, r5, r6, r7,
        ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS id,
        timestamptz '2025-01-01 00:00+03' + (i::float8 / :n) * interval '365 days'
            + (r5 * interval '1 hour') AS received_at,
        CASE WHEN r1 < 0.02 THEN NULL ELSE 1 + floor(150 * r2 * r2)::int END AS cat,
        CASE WHEN r3 < 0.40 THEN 'cagri-merkezi' WHEN r3 < 0.60 THEN 'web' WHEN r3 < 0.80 THEN 'mobil'
             WHEN r3 < 0.85 THEN 'eposta' WHEN r3 < 0.95 THEN 'cimer' WHEN r3 < 0.98 THEN 'sosyal-medya'
             ELSE 'yuz-yuze' END AS channel
    FROM base
)
SELECT s.*,
    CASE WHEN s.cat IS NULL THEN NULL ELSE 'b-mud-' || (1 + s.cat % 30) END AS directorate,
    CASE WHEN s.cat IS NULL THEN NULL ELSE 'b-kat-' || s.cat END AS category,
    CASE WHEN s.cat IS NULL THEN NULL
         ELSE s.received_at + (3 + (s.cat % 10) * 3) * interval '1.4 days' END AS due_at,
    CASE WHEN s.cat IS NOT NULL AND s.r4 < 0.95
              AND s.received_at + (-ln(1 - s.r5) * (3 + (s.cat % 10) * 3) * 0.7) * interval '1 day'
                  < timestamptz '2026-01-02 10:00+00'
         THEN s.received_at + (-ln(1 - s.r5) * (3 + (s.cat % 10) * 3) * 0.7) * interval '1 day'
                  + interval '2 hours' END AS answered_at,
    s.r6 < 0.02 AS reopened,
    s.r6 >= 0.02 AND s.r6 < 0.03 AS redirected,
    s.r6 >= 0.03 AND s.r6 < 0.06 AS wrong_directorate,
    s.r6 >= 0.06 AND s.r6 < 0.11 AS info,
    s.r6 >= 0.11 AND s.r6 < 0.12 AND s.i > 1 AS merged,
    s.r6 < 0.03 OR (s.r6 >= 0.12 AND s.r6 < 0.13) AS nonconforming
FROM shaped s;
ALTER TABLE bench_plan ADD PRIMARY KEY (i);
"""

LOAD = [
    # Catalogue: 30 directorates, 150 categories (service times 3 to 30 working days).
    """INSERT INTO directorates (code, name, email, director_email, staff_group, director_group, head_email)
       SELECT 'b-mud-' || d, 'Müdürlük ' || d, 'm' || d || '@example.org', 'md' || d || '@example.org',
              'b-mud-' || d, 'b-mud-' || d || '-mudur', 'db' || d || '@example.org'
       FROM generate_series(1, 30) AS d""",
    """INSERT INTO categories (code, name, directorate_code, service_days, active)
       SELECT 'b-kat-' || c, 'Kategori ' || c, 'b-mud-' || (1 + c % 30), 3 + (c % 10) * 3, true
       FROM generate_series(1, 150) AS c""",
    """INSERT INTO citizen_requests (id, tracking_code, channel, channel_reference, request_type,
           category_code, description, status, directorate_code, received_at, due_at, closed_at,
           answer, priority, merged_into_id)
       SELECT p.id, 'B' || p.i, p.channel, 'ref-' || p.i, 'istek', p.category, 'Kıyas talebi.',
           CASE WHEN p.merged THEN 'birlestirildi' WHEN p.category IS NULL THEN 'yonlendirme-bekliyor'
                WHEN p.answered_at IS NULL THEN 'mudurlukte'
                WHEN p.reopened AND p.r7 < 0.5 THEN 'yeniden-acildi'
                WHEN p.redirected THEN 'kuruma-yonlendirildi' ELSE 'kapatildi' END,
           p.directorate, p.received_at, p.due_at,
           CASE WHEN p.merged OR (p.reopened AND p.r7 < 0.5) THEN NULL ELSE p.answered_at END,
           CASE WHEN p.answered_at IS NOT NULL AND NOT (p.reopened AND p.r7 < 0.5)
                THEN CASE WHEN p.redirected THEN 'yonlendirildi' ELSE 'olumlu' END END,
           'normal',
           CASE WHEN p.merged THEN ('00000000-0000-4000-8000-' || lpad(to_hex(p.i - 1), 12, '0'))::uuid END
       FROM bench_plan p ORDER BY p.i""",
]

# History entries: (event, at, details, which requests).
EVENTS = [
    ("alindi", "p.received_at", "'{}'::jsonb", "true"),
    (
        "yonlendirildi",
        "p.received_at + interval '5 minutes'",
        "jsonb_build_object('dueAt', p.due_at, 'categoryCode', p.category)",
        "p.category IS NOT NULL",
    ),
    ("mudurluge-bildirildi", "p.received_at + interval '6 minutes'", "'{}'::jsonb", "p.category IS NOT NULL"),
    (
        "mudurluk-degerlendirmesi",
        "p.received_at + interval '1 day'",
        '\'{"outcome": "yanlis-mudurluk"}\'::jsonb',
        "p.wrong_directorate AND p.category IS NOT NULL",
    ),
    ("bilgi-istendi", "p.received_at + interval '1 day'", "'{}'::jsonb", "p.info AND p.category IS NOT NULL"),
    (
        "vatandas-yanit-vermedi",
        "p.received_at + interval '11 days'",
        "'{}'::jsonb",
        "p.info AND p.category IS NOT NULL AND p.r7 < 0.33",
    ),
    (
        "mudurluk-degerlendirmesi",
        "p.answered_at - interval '1 hour'",
        '\'{"outcome": "yapildi"}\'::jsonb',
        "p.answered_at IS NOT NULL",
    ),
    (
        "yanitlandi",
        "p.answered_at",
        '\'{"answer": "olumlu"}\'::jsonb',
        "p.answered_at IS NOT NULL AND NOT p.redirected",
    ),
    ("kuruma-yonlendirildi", "p.answered_at", "'{}'::jsonb", "p.answered_at IS NOT NULL AND p.redirected"),
    (
        "memnuniyet-daveti-gonderildi",
        "p.answered_at + interval '1 hour'",
        "'{\"sent\": true}'::jsonb",
        "p.answered_at IS NOT NULL AND p.r7 < 0.8",
    ),
    (
        "yeniden-acildi",
        "p.answered_at + interval '2 days'",
        "'{}'::jsonb",
        "p.answered_at IS NOT NULL AND p.reopened",
    ),
    ("birlestirildi", "p.received_at + interval '1 hour'", "'{}'::jsonb", "p.merged"),
]

QUALITY = [
    """INSERT INTO nonconformities (id, number, request_id, directorate_code, description, source,
           found_by, found_at, status, decision)
       SELECT p.id, 'UYG-B-' || p.i, p.id, p.directorate, 'Uygun olmayan hizmet.', 'kapatma-kontrolu',
              'eys', coalesce(p.answered_at, p.received_at) + interval '1 day', 'kapatildi',
              CASE WHEN p.redirected THEN 'yonlendir' ELSE 'yeniden-ac' END
       FROM bench_plan p WHERE p.nonconforming AND p.category IS NOT NULL AND NOT p.merged""",
    """INSERT INTO objections (id, request_id, received_at, reason, status)
       SELECT gen_random_uuid(), p.id, p.answered_at + interval '1 day', 'İtiraz.',
              CASE WHEN p.r5 < 0.3 THEN 'yeniden-acildi' WHEN p.r5 < 0.9 THEN 'kapanis-onaylandi'
                   ELSE 'acik' END
       FROM bench_plan p WHERE p.answered_at IS NOT NULL AND p.r7 > 0.99 AND NOT p.merged""",
    """INSERT INTO satisfaction_ratings (request_id, score, rated_at)
       SELECT p.id, 1 + floor(p.r5 * 5)::int, p.answered_at + interval '1 day'
       FROM bench_plan p WHERE p.answered_at IS NOT NULL AND p.r7 < 0.2 AND NOT p.merged""",
    # A fifth of the nonconformities lead to a finding and a DİF (every state of its life).
    """INSERT INTO findings (id, number, nonconformity_id, directorate_code, description, opened_at)
       SELECT n.id, 'BLG-B-' || n.number, n.id, n.directorate_code, 'Bulgu.', n.found_at
       FROM nonconformities n WHERE n.number LIKE 'UYG-B-%' AND hashtext(n.number) % 5 = 0""",
    """INSERT INTO difs (id, number, finding_id, directorate_code, status, opened_at, closed_at)
       SELECT f.id, 'DIF-B-' || f.number, f.id, f.directorate_code,
              (ARRAY['planlanacak', 'uygulamada', 'mudur-onayinda', 'eys-dogrulamasinda', 'kapatildi',
                     'kapatildi', 'kapatildi'])[1 + abs(hashtext(f.number)) % 7],
              f.opened_at,
              CASE WHEN abs(hashtext(f.number)) % 7 >= 4 THEN f.opened_at + interval '40 days' END
       FROM findings f WHERE f.number LIKE 'BLG-B-%'""",
    """INSERT INTO dif_actions (id, dif_id, position, description, responsible, responsible_email, due_at,
           status, completed_at)
       SELECT gen_random_uuid(), d.id, k, 'Eylem.', 'sorumlu', 'sorumlu@example.org',
              d.opened_at + k * interval '10 days',
              CASE WHEN d.status IN ('planlanacak', 'uygulamada') AND k = 2 THEN 'acik' ELSE 'tamamlandi' END,
              CASE WHEN d.status IN ('planlanacak', 'uygulamada') AND k = 2 THEN NULL
                   ELSE d.opened_at + k * interval '10 days'
                        + (abs(hashtext(d.number)) % 5 - 2) * interval '1 day' END
       FROM difs d CROSS JOIN generate_series(1, 2) AS k WHERE d.number LIKE 'DIF-B-%'""",
    """INSERT INTO dif_approvals (id, dif_id, step, decision, comment, actor, at, details, idempotency_key)
       SELECT gen_random_uuid(), d.id, s.step, s.decision, 'Karar.', 'onaylayan', d.opened_at + s.after,
              '{}'::jsonb, 'bench:' || d.number || ':' || s.step || ':' || s.decision
       FROM difs d
       CROSS JOIN LATERAL (VALUES ('mudur-onayi', 'onayla', interval '25 days'),
                                  ('eys-dogrulama',
                                   CASE WHEN abs(hashtext(d.number)) % 4 = 0 THEN 'geri-gonder'
                                        ELSE 'kapat' END,
                                   interval '35 days')) AS s (step, decision, after)
       WHERE d.number LIKE 'DIF-B-%' AND d.status IN ('eys-dogrulamasinda', 'kapatildi')""",
]


@dataclass
class Timing:
    name: str
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def worst(self) -> float:
        return max(self.runs)


def _database(url: str) -> str:
    """Drop and create the benchmark's own database, migrate it to head; returns its URL."""
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        quoted = connection.dialect.identifier_preparer.quote(str(target.database))
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {quoted}"))
    server.dispose()
    config = Config(str(REPO / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")
    return url


def _step(label: str, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    took = time.perf_counter() - started
    print(f"  {label}: {took:.1f} s", flush=True)
    return took


def load(engine: Engine, requests: int) -> dict[str, float]:
    """The year's rows, triggers off; the summaries then filled by a full refresh (timed)."""
    took: dict[str, float] = {}
    with engine.begin() as connection:
        for table in TRIGGERED:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER indicator_mark"))

    def run(*statements: str, **params: int) -> None:
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL work_mem = '128MB'"))
            for statement in statements:
                for part in (s for s in statement.split(";\n") if s.strip()):
                    connection.execute(text(part), params)

    took["plan"] = _step("plan", lambda: run(PLAN, n=requests))
    took["requests"] = _step("requests", lambda: run(*LOAD))
    events = [
        f"INSERT INTO request_events (id, request_id, at, actor, event, details)"
        f" SELECT gen_random_uuid(), p.id, {at}, 'sistem', '{event}', {details}"
        f" FROM bench_plan p WHERE {where}"
        for event, at, details, where in EVENTS
    ]
    took["history"] = _step("history", lambda: run(*events))
    took["quality"] = _step("nonconformities, objections, ratings, DİFs", lambda: run(*QUALITY))
    with engine.begin() as connection:
        for table in TRIGGERED:
            connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER indicator_mark"))
        connection.execute(text("DROP TABLE bench_plan"))
        connection.execute(text("TRUNCATE indicator_dirty"))
    vacuum = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    took["analyze"] = _step("analyze", lambda: _analyze(vacuum))

    def full() -> None:
        with Session(engine) as session:
            rebuild(session, now=NOW)
            session.commit()

    took["full refresh"] = _step("full refresh (every request)", full)
    took["analyze summaries"] = _step("analyze summaries", lambda: _analyze(vacuum))
    vacuum.dispose()
    return took


def _analyze(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))


def _counts(engine: Engine) -> dict[str, int]:
    tables = (
        "citizen_requests",
        "request_events",
        "nonconformities",
        "difs",
        "indicator_requests",
        "indicator_daily",
        "indicator_durations",
    )
    with engine.connect() as connection:
        return {t: int(connection.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}


def time_reports(engine: Engine, runs: int) -> list[Timing]:
    cases: list[tuple[str, Filters, str | None]] = [
        ("whole year, all directorates (monthly)", YEAR, None),
        ("whole year, all directorates (daily)", Filters(YEAR.start, YEAR.end), None),
        ("whole year, one directorate (a director)", YEAR, "b-mud-2"),
        ("one month (June), all directorates", Filters(date(2025, 6, 1), date(2025, 6, 30)), None),
        (
            "whole year, one channel + category",
            Filters(YEAR.start, YEAR.end, channel="web", category="b-kat-3", granularity=Granularity.MONTH),
            None,
        ),
    ]
    timings = []
    with Session(engine) as session:
        report(session, YEAR, scope=None, now=NOW)  # warm the caches once
        for name, filters, scope in cases:
            spent = []
            for _ in range(runs):
                started = time.perf_counter()
                report(session, filters, scope=scope, now=NOW)
                spent.append(time.perf_counter() - started)
            timings.append(Timing(f"report(): {name}", spent))
        spent = []
        for _ in range(runs):
            started = time.perf_counter()
            found = behind(
                session, "sure-icinde-yanit-orani", YEAR, {"mudurluk": "b-mud-5"}, scope=None, now=NOW
            )
            session.execute(found.ids.limit(50)).all()
            spent.append(time.perf_counter() - started)
        timings.append(Timing("behind(): first 50 of one directorate's on-time requests", spent))
    return timings


def time_incremental(engine: Engine, events: int, runs: int) -> Timing:
    """`events` new history entries on as many requests (answers, invitations), then the refresh."""
    spent = []
    for round_ in range(runs):
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO request_events (id, request_id, at, actor, event, details)"
                    " SELECT gen_random_uuid(), r.id, now(), 'sistem', 'memnuniyet-daveti-gonderildi',"
                    " '{\"sent\": true}'::jsonb FROM citizen_requests r"
                    " WHERE r.tracking_code IN (SELECT 'B' || (1 + ((g * 7919 + :salt) % :n))"
                    " FROM generate_series(1, :events) AS g)"
                ),
                {"events": events, "salt": round_ * 104_729, "n": _requests(engine)},
            )
        started = time.perf_counter()
        refresh_once(engine)
        spent.append(time.perf_counter() - started)
    return Timing(f"incremental refresh after {events} new history entries", spent)


def time_page(url: str, runs: int) -> list[Timing]:
    """The monitoring page as the IMS office opens it over HTTP (the whole app, in process): the
    year by month; then its charts (each its own request, drawn anew: the morning's first visit),
    the XLSX and the management-review PDF."""
    from services.web import monitoring
    from services.web.staff import COOKIE

    container = bootstrap(get_settings().model_copy(update={"database_url": url}))
    query = {"baslangic": YEAR.start.isoformat(), "bitis": YEAR.end.isoformat(), "siklik": "ay"}
    page, drawn, xlsx, pdf = [], [], [], []
    try:
        with TestClient(create_app(container)) as client:
            principal = Principal.staff("bench.eys", {Role.IMS_OFFICE}, None)
            client.cookies.set(
                COOKIE, staff_sessions.create(container.uow, principal, display_name="-", id_token="-")
            )
            for _ in range(runs):
                started = time.perf_counter()
                answer = client.get("/personel/izleme", params=query)
                page.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text[:500]
                images = [
                    src.replace("&amp;", "&")
                    for src in re.findall(r'<img src="([^"]+\.svg[^"]*)"', answer.text)
                ]
                charts._svg.cache_clear()
                started = time.perf_counter()
                for src in images:
                    assert client.get(src).status_code == 200, src
                drawn.append(time.perf_counter() - started)
                started = time.perf_counter()
                assert client.get("/personel/izleme.xlsx", params=query).status_code == 200
                xlsx.append(time.perf_counter() - started)
                charts._png.cache_clear()
                monitoring._RECENT.clear()
                started = time.perf_counter()
                assert client.get("/personel/izleme/yonetim-raporu.pdf", params=query).status_code == 200
                pdf.append(time.perf_counter() - started)
    finally:
        container.close()
    return [
        Timing("page over HTTP: whole year by month, IMS office (figures + HTML)", page),
        Timing(f"its {len(images)} charts, one request each, drawn anew", drawn),
        Timing("XLSX export, whole year", xlsx),
        Timing("management-review PDF, whole year and the year before", pdf),
    ]


def _requests(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(text("SELECT count(*) FROM citizen_requests WHERE tracking_code LIKE 'B%'"))
            or 0
        )


def main(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = (
        make_url(settings.database_url)
        .set(database=args.indicator_database)
        .render_as_string(hide_password=False)
    )
    print(
        f"indicators benchmark: {args.indicator_requests:,} requests into {args.indicator_database}",
        flush=True,
    )
    engine = create_engine(_database(url))
    try:
        loaded = load(engine, args.indicator_requests)
        counts = _counts(engine)
        timings = time_reports(engine, args.indicator_runs)
        timings.append(time_incremental(engine, args.indicator_events, args.indicator_runs))
        timings += time_page(url, args.indicator_runs)
    finally:
        engine.dispose()
    print("\nrows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    print("load: " + ", ".join(f"{k} {v:.1f} s" for k, v in loaded.items()))
    print(f"\n| measured ({args.indicator_runs} runs) | median | max |\n| --- | --- | --- |")
    for t in timings:
        print(f"| {t.name} | {t.median * 1000:.0f} ms | {t.worst * 1000:.0f} ms |")
    out = settings.data_dir / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"indicators-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(
        json.dumps(
            {
                "requests": args.indicator_requests,
                "rows": counts,
                "load_seconds": loaded,
                "timings": [{"name": t.name, "runs": t.runs} for t in timings],
            },
            indent=2,
        )
    )
    print(f"\n{path}")
    over = [t.name for t in timings if t.name.startswith("report()") and t.median >= 1.0]
    print("target: report() under 1 s — " + ("met" if not over else f"NOT met for {', '.join(over)}"))
    return 0
