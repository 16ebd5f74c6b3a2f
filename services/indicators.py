"""The monitoring report (issue #15): `report` builds the tables the page, the XLSX and the PDF show;
`behind` gives the rows behind any number of it.

Request figures are read from the summary tables services/indicator_refresh.py keeps (exact as of
the last refresh); DİF figures from the DİF tables themselves (a few thousand rows a year). Every
figure is defined once, in services/indicator_figures.py (FIGURES), which docs/indicators.md copies.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from services.difs import STATUS_NAMES
from services.indicator_figures import FIGURES, Figure
from services.indicator_refresh import SUMS
from services.indicator_tables import Cell, Chart, Filters, Granularity, Report, Section, Table, Unit
from services.models import Category, Dif, Directorate, IndicatorRequest
from services.working_days import ISTANBUL, is_working_day

__all__ = ["FIGURES", "Behind", "Figure", "UnknownNarrowing", "behind", "report"]

CHANNELS = {
    "cagri-merkezi": "Çağrı merkezi",
    "web": "Web",
    "mobil": "Mobil uygulama",
    "eposta": "E-posta",
    "cimer": "CİMER",
    "sosyal-medya": "Sosyal medya",
    "yuz-yuze": "Yüz yüze",
    "open311": "Open311",
}
UNROUTED = "Yönlendirilmemiş"
NO_DATA = "Henüz veri yok"
# Working days past the due date (open requests) and since opening (open DİFs): key → (from, to).
OVERDUE_BANDS: dict[str, tuple[str, int, int | None]] = {
    "0-1": ("0–1 iş günü", 0, 1),
    "2-5": ("2–5 iş günü", 2, 5),
    "6-10": ("6–10 iş günü", 6, 10),
    "11+": ("11 iş günü ve üzeri", 11, None),
}
DIF_AGE_BANDS: dict[str, tuple[str, int, int | None]] = {
    "0-10": ("0–10 iş günü", 0, 10),
    "11-20": ("11–20 iş günü", 11, 20),
    "21-40": ("21–40 iş günü", 21, 40),
    "41+": ("41 iş günü ve üzeri", 41, None),
}
APPROVAL_STEPS = {
    "mudur-onayi": ("Müdür onayı", "mudur-onayinda"),
    "eys-dogrulama": ("EYS doğrulaması", "eys-dogrulamasinda"),
}
SECTIONS = {
    "hacim": "Talep hacmi",
    "hizmet-suresi": "Hizmet süresine uyum",
    "sureler": "Yanıt ve kapanış süreleri",
    "oranlar": "Oranlar",
    "dif": "Düzeltici ve iyileştirici faaliyetler (DİF)",
    "iso10002": "İtirazlar ve memnuniyet (ISO 10002)",
    "yonetim": "Yönetimin gözden geçirmesi",
}
TOP_CATEGORIES = 10
# The management review lists the period's DİFs one by one up to this many (the PDF stays readable;
# the lists behind the summary's numbers hold them all).
LISTED_DIFS = 200
DUE_DAY = "(f.due_at AT TIME ZONE 'Europe/Istanbul')::date"
OPENED_DAY = "(d.opened_at AT TIME ZONE 'Europe/Istanbul')::date"
WAITING_SINCE = (
    "greatest((SELECT max(p.at) FROM dif_approvals p WHERE p.dif_id = d.id),"
    " (SELECT max(a.completed_at) FROM dif_actions a WHERE a.dif_id = d.id), d.opened_at)"
)


class UnknownNarrowing(ValueError):
    """A link's narrowing names a value no figure has (e.g. an approval step that does not exist)."""


@dataclass(frozen=True)
class Behind:
    """The rows a number counts: `ids` selects their ids (request or DİF ids, as `kind` says)."""

    kind: Literal["requests", "difs"]
    ids: Select[Any]


# ---------------------------------------------------------------- small helpers


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def nearest_rank(histogram: Mapping[int, int], p: float) -> int | None:
    """The value at rank ⌈p·N⌉ of the N values a {value: count} histogram holds."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(p * total)), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable")


def _since(today: date, days: Iterable[int]) -> dict[int, datetime]:
    """For each k: the instant before which a moment lies at least k working days before `today`
    (working days between dates a and b: the working days d with a < d ≤ b). Counting back from
    today, the k-th working day met is the first day less than k working days back: the threshold
    is its start. A comparison of the column against it needs no per-row lookup."""
    found, day, counted = {}, today, 0
    for k in sorted(days):
        while counted < k:
            if is_working_day(day):
                counted += 1
            day -= timedelta(days=1)
        found[k] = datetime.combine(day + timedelta(days=1), time(0), ISTANBUL)
    return found


def _working_days_back(starts: Iterable[datetime], end: date) -> list[int]:
    """For each start: the working days d with date(start) < d ≤ end, Istanbul dates (the service
    time's calendar), from one running count over the days they span."""
    days = [s.astimezone(ISTANBUL).date() for s in starts]
    if not days:
        return []
    behind_end: dict[date, int] = {end: 0}
    day, counted = end, 0
    first = min(days)
    while day > first:
        counted += is_working_day(day)
        day -= timedelta(days=1)
        behind_end[day] = counted
    return [behind_end.get(d, 0) for d in days]


def _working_days_between(start: datetime, end: date) -> int:
    return _working_days_back([start], end)[0]


def _band_case(
    bands: Mapping[str, tuple[str, int, int | None]], column: str, today: date
) -> tuple[str, dict[str, Any]]:
    """SQL naming the band of working days from `column` to today, and its parameters."""
    lows = sorted(((lo, key) for key, (_, lo, _) in bands.items()), reverse=True)
    since = _since(today, [lo for lo, _ in lows if lo > 0])
    params = {f"band_{lo}": since[lo] for lo, _ in lows if lo > 0}
    cases = " ".join(f"WHEN {column} < :band_{lo} THEN '{key}'" for lo, key in lows if lo > 0)
    floor = next(key for lo, key in lows if lo == 0)
    return f"CASE {cases} ELSE '{floor}' END", params


def _narrow(filters: Filters, where: Mapping[str, str], scope: str | None) -> Filters:
    """The filters with a cell's narrowing applied, then the caller's scope (which always wins)."""
    narrowed = replace(
        filters,
        start=max(filters.start, date.fromisoformat(where["baslangic"]))
        if "baslangic" in where
        else filters.start,
        end=min(filters.end, date.fromisoformat(where["bitis"])) if "bitis" in where else filters.end,
        directorate=where.get("mudurluk", filters.directorate),
        channel=where.get("kanal", filters.channel),
        category=where.get("kategori", filters.category),
    )
    return narrowed.scoped(scope)


def _conditions(filters: Filters, alias: str, day: str) -> tuple[list[str], dict[str, Any]]:
    clauses = [f"{alias}.{day} BETWEEN :start AND :end"]
    params: dict[str, Any] = {"start": filters.start, "end": filters.end}
    for column, value in (
        ("directorate_code", filters.directorate),
        ("channel", filters.channel),
        ("category_code", filters.category),
    ):
        if value is not None:
            clauses.append(f"{alias}.{column} = :{column}")
            params[column] = value
    return clauses, params


def _bucket(granularity: Granularity) -> str:
    return {
        "gun": "c.day",
        "hafta": "date_trunc('week', c.day)::date",
        "ay": "date_trunc('month', c.day)::date",
    }[granularity.value]


def _bucket_end(start: date, granularity: Granularity) -> date:
    if granularity is Granularity.DAY:
        return start
    if granularity is Granularity.WEEK:
        return start + timedelta(days=6)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _month_end(month: date) -> date:
    return _bucket_end(month, Granularity.MONTH)


def _sources(filters: Filters, monthly: str, daily: str, columns: str) -> tuple[str, dict[str, Any]]:
    """The rows of a summary for the period: whole months from the monthly table, the days before
    the first and after the last whole month from the daily one."""
    first = filters.start if filters.start.day == 1 else _month_end(filters.start) + timedelta(days=1)
    last_end = (
        filters.end
        if filters.end == _month_end(filters.end)
        else filters.end.replace(day=1) - timedelta(days=1)
    )
    params: dict[str, Any] = {"start": filters.start, "end": filters.end}
    if first > last_end:
        return f"(SELECT {columns} FROM {daily} WHERE day BETWEEN :start AND :end)", params
    params.update(m_first=first, m_last=last_end.replace(day=1), m_end=last_end)
    return (
        f"(SELECT {columns} FROM {monthly} WHERE day BETWEEN :m_first AND :m_last"
        f" UNION ALL SELECT {columns} FROM {daily} WHERE day BETWEEN :start AND :end"
        " AND NOT day BETWEEN :m_first AND :m_end)",
        params,
    )


def _narrowing(filters: Filters, alias: str, *, category: bool = True) -> tuple[list[str], dict[str, Any]]:
    clauses: list[str] = ["true"]
    params: dict[str, Any] = {}
    for column, value in (
        ("directorate_code", filters.directorate),
        ("channel", filters.channel),
        ("category_code", filters.category if category else None),
    ):
        if value is not None:
            clauses.append(f"{alias}.{column} = :{column}")
            params[column] = value
    return clauses, params


class _Data:
    """What one report reads, each summary table once."""

    def __init__(self, session: Session, filters: Filters, now: datetime) -> None:
        self.session, self.filters, self.now = session, filters, now
        self.today = now.astimezone(ISTANBUL).date()
        self.directorates: dict[str, str] = {
            c: n for c, n in session.execute(select(Directorate.code, Directorate.name))
        }
        self.categories = {
            code: (name, directorate)
            for code, name, directorate in session.execute(
                select(Category.code, Category.name, Category.directorate_code)
            )
        }
        self._counts()
        self._time_series()
        self._histograms()
        self._overdue()

    def _counts(self) -> None:
        columns = "day, directorate_code, category_code, channel, " + ", ".join(SUMS)
        source, params = _sources(self.filters, "indicator_monthly", "indicator_daily", columns)
        clauses, more = _narrowing(self.filters, "c")
        sums = ", ".join(f"sum(c.{s})::int AS {s}" for s in SUMS)
        # One pass over the cells: every grouping the report needs (GROUPING SETS).
        self.cells: dict[tuple[str, str], dict[str, int]] = {}
        rows = self.session.execute(
            text(
                "SELECT grouping(c.directorate_code) AS gd, grouping(c.category_code) AS gc,"
                f" grouping(c.channel) AS gk, c.directorate_code, c.category_code, c.channel, {sums}"
                f" FROM {source} c WHERE {' AND '.join(clauses)}"
                " GROUP BY GROUPING SETS ((), (c.directorate_code), (c.category_code), (c.channel))"
            ),
            {**params, **more},
        ).mappings()
        for row in rows:
            values = {s: int(row[s] or 0) for s in SUMS}
            if not row["gc"]:
                self.cells[("kategori", row["category_code"])] = values
            elif not row["gd"]:
                self.cells[("mudurluk", row["directorate_code"])] = values
            elif not row["gk"]:
                self.cells[("kanal", row["channel"])] = values
            else:
                self.cells[("", "")] = values

    def _time_series(self) -> None:
        columns = "day, directorate_code, category_code, channel, requests"
        if self.filters.granularity is Granularity.MONTH:
            source, params = _sources(self.filters, "indicator_monthly", "indicator_daily", columns)
        else:
            source = f"(SELECT {columns} FROM indicator_daily WHERE day BETWEEN :start AND :end)"
            params = {"start": self.filters.start, "end": self.filters.end}
        clauses, more = _narrowing(self.filters, "c")
        bucket = _bucket(self.filters.granularity)
        self.by_time: dict[tuple[date, str], int] = {
            (b, c): int(n)
            for b, c, n in self.session.execute(
                text(
                    f"SELECT {bucket}, c.channel, sum(c.requests) FROM {source} c"
                    f" WHERE {' AND '.join(clauses)} GROUP BY 1, 2"
                ),
                {**params, **more},
            )
        }

    def _histograms(self) -> None:
        self.histograms: dict[tuple[str | None, str], dict[int, int]] = defaultdict(dict)
        grouping = "GROUP BY GROUPING SETS ((kind, wd), (directorate_code, kind, wd))"
        if self.filters.category is None:
            # The histogram tables: per directorate and channel (no category).
            columns = "day, directorate_code, channel, kind, wd, n"
            source, params = _sources(
                self.filters, "indicator_durations_monthly", "indicator_durations", columns
            )
            clauses, more = _narrowing(self.filters, "c", category=False)
            sql = (
                "SELECT grouping(directorate_code) AS gd, directorate_code, kind, wd, sum(n)::int AS n"
                f" FROM {source} c WHERE {' AND '.join(clauses)} {grouping}"
            )
        else:
            # One category: its rows (an index on category and day), a small share of the year.
            clauses, params = _conditions(self.filters, "f", "received_day")
            more = {}
            sql = (
                "SELECT grouping(directorate_code) AS gd, directorate_code, kind, wd, count(*)::int AS n"
                " FROM indicator_requests f CROSS JOIN LATERAL (VALUES ('yanit', f.answer_wd),"
                " ('kapanis', f.close_wd)) AS d (kind, wd)"
                f" WHERE d.wd IS NOT NULL AND {' AND '.join(clauses)} {grouping}"
            )
        for row in self.session.execute(text(sql), {**params, **more}).mappings():
            owner = None if row["gd"] else row["directorate_code"]
            self.histograms[(owner, row["kind"])][row["wd"]] = row["n"]

    def _overdue(self) -> None:
        """Open requests past their due date now, banded, and the unanswered ones per directorate
        and category (the open rows only: a partial index)."""
        clauses, params = _conditions(self.filters, "f", "received_day")
        band, more = _band_case(OVERDUE_BANDS, "f.due_at", self.today)
        params.update(more, now=self.now)
        rows = self.session.execute(
            text(
                f"SELECT grouping(f.directorate_code) AS gd, f.directorate_code, f.category_code,"
                f" {band} AS band, count(*)::int AS n,"
                " count(*) FILTER (WHERE f.first_answer_at IS NULL)::int AS unanswered"
                f" FROM indicator_requests f WHERE f.closed_at IS NULL AND f.due_at < :now"
                f" AND {' AND '.join(clauses)}"
                f" GROUP BY GROUPING SETS (({band}), (f.directorate_code, f.category_code))"
            ),
            params,
        ).mappings()
        self.bands: dict[str, int] = dict.fromkeys(OVERDUE_BANDS, 0)
        self.late: dict[tuple[str, str], int] = defaultdict(int)
        for row in rows:
            if row["gd"]:
                self.bands[row["band"]] = row["n"]
                continue
            self.late[("", "")] += row["unanswered"]
            self.late[("mudurluk", row["directorate_code"])] += row["unanswered"]
            self.late[("kategori", row["category_code"])] += row["unanswered"]

    def sums(self, group: str = "", key: str = "") -> dict[str, int]:
        return self.cells.get((group, key), dict.fromkeys(SUMS, 0))

    def keys(self, group: str) -> list[str]:
        found = [k for g, k in self.cells if g == group]
        return sorted(found, key=lambda k: (-self.cells[(group, k)]["requests"], k))

    def name(self, group: str, key: str) -> str:
        if group == "mudurluk":
            return self.directorates.get(key, key) if key else UNROUTED
        if group == "kategori":
            return self.categories[key][0] if key in self.categories else (key or UNROUTED)
        return CHANNELS.get(key, key)

    def late_unanswered(self, group: str = "", key: str = "") -> int:
        return self.late.get((group, key), 0)


# ---------------------------------------------------------------- sections


def _by(data: _Data, group: str, title: str, key: str) -> Table:
    label = {"kanal": "Kanal", "kategori": "Kategori", "mudurluk": "Müdürlük"}[group]
    return Table(
        key=key,
        title=title,
        columns=(label, "Talep"),
        units=(Unit.TEXT, Unit.COUNT),
        rows=tuple(
            (Cell(data.name(group, k)), Cell(data.sums(group, k)["requests"], "talep-sayisi", {group: k}))
            for k in data.keys(group)
        ),
        chart=Chart("hbar", 0, (1,)),
        note=FIGURES["talep-sayisi"].tanim,
    )


def _volume(data: _Data) -> Section:
    granularity = data.filters.granularity
    channels = sorted({c for _, c in data.by_time})
    rows = []
    for bucket in sorted({b for b, _ in data.by_time}):
        period = {
            "baslangic": max(bucket, data.filters.start).isoformat(),
            "bitis": min(_bucket_end(bucket, granularity), data.filters.end).isoformat(),
        }
        total = sum(data.by_time.get((bucket, c), 0) for c in channels)
        rows.append(
            (
                Cell(bucket.isoformat()),
                Cell(total, "talep-sayisi", period),
                *(
                    Cell(data.by_time.get((bucket, c), 0), "talep-sayisi", {**period, "kanal": c})
                    for c in channels
                ),
            )
        )
    over_time = Table(
        key="hacim-zaman",
        title={"gun": "Günlük", "hafta": "Haftalık", "ay": "Aylık"}[granularity.value] + " talep sayısı",
        columns=("Dönem", "Toplam", *(CHANNELS.get(c, c) for c in channels)),
        units=(Unit.TEXT, Unit.COUNT, *(Unit.COUNT for _ in channels)),
        rows=tuple(rows),
        chart=Chart("stacked-bar", 0, tuple(range(2, 2 + len(channels)))) if channels else None,
        note=FIGURES["talep-sayisi"].tanim,
    )
    return Section(
        "hacim",
        SECTIONS["hacim"],
        (
            over_time,
            _by(data, "kanal", "Kanala göre talepler", "hacim-kanal"),
            _by(data, "kategori", "Kategoriye göre talepler", "hacim-kategori"),
            _by(data, "mudurluk", "Müdürlüğe göre talepler", "hacim-mudurluk"),
        ),
    )


def _compliance_row(data: _Data, label: str, group: str, key: str) -> tuple[Cell, ...]:
    sums, where = data.sums(group, key), ({group: key} if group else {})
    assessed = sums["due_answered"] + data.late_unanswered(group, key)
    return (
        Cell(label),
        Cell(assessed, "hizmet-suresi-kapsami", where),
        Cell(sums["on_time"], "sure-icinde-yanitlanan", where),
        Cell(_share(sums["on_time"], assessed), "sure-icinde-yanit-orani", where),
    )


def _service_time(data: _Data) -> Section:
    columns = ("", "Süresi değerlendirilen", "Süresinde yanıtlanan", "Süresinde yanıt oranı")
    units = (Unit.TEXT, Unit.COUNT, Unit.COUNT, Unit.PERCENT)
    note = FIGURES["sure-icinde-yanit-orani"].tanim

    def table(key: str, title: str, group: str, first: str) -> Table:
        rows = tuple(_compliance_row(data, data.name(group, k), group, k) for k in data.keys(group))
        return Table(key, title, (first, *columns[1:]), units, rows, Chart("hbar", 0, (3,)), note)

    overall = Table(
        "hizmet-suresi-genel",
        "Hizmet süresi içinde yanıt",
        ("Kapsam", *columns[1:]),
        units,
        (_compliance_row(data, "Genel", "", ""),),
        None,
        note,
    )
    late = data.bands
    overdue = Table(
        "geciken-acik",
        "Süresi geçmiş açık talepler (gecikmeye göre)",
        ("Gecikme", "Talep"),
        (Unit.TEXT, Unit.COUNT),
        tuple(
            (Cell(label), Cell(late[band], "geciken-acik", {"gecikme": band}))
            for band, (label, _, _) in OVERDUE_BANDS.items()
        ),
        Chart("bar", 0, (1,)),
        FIGURES["geciken-acik"].tanim,
    )
    return Section(
        "hizmet-suresi",
        SECTIONS["hizmet-suresi"],
        (
            overall,
            table("hizmet-suresi-mudurluk", "Müdürlüğe göre hizmet süresine uyum", "mudurluk", "Müdürlük"),
            table("hizmet-suresi-kategori", "Kategoriye göre hizmet süresine uyum", "kategori", "Kategori"),
            overdue,
        ),
    )


def _durations_row(data: _Data, label: str, directorate: str | None) -> tuple[Cell, ...]:
    where = {"mudurluk": directorate} if directorate is not None else {}
    sums = data.sums("mudurluk", directorate) if directorate is not None else data.sums()
    answer, close = (
        data.histograms.get((directorate, "yanit"), {}),
        data.histograms.get((directorate, "kapanis"), {}),
    )
    return (
        Cell(label),
        Cell(sums["answered"], "yanitlanan", where),
        Cell(nearest_rank(answer, 0.5), "yanit-suresi-medyan", where),
        Cell(nearest_rank(answer, 0.9), "yanit-suresi-p90", where),
        Cell(sums["closed"], "kapanan", where),
        Cell(nearest_rank(close, 0.5), "kapanis-suresi-medyan", where),
        Cell(nearest_rank(close, 0.9), "kapanis-suresi-p90", where),
    )


def _times(data: _Data) -> Section:
    columns = ("Yanıtlanan", "Yanıt medyan", "Yanıt %90", "Kapanan", "Kapanış medyan", "Kapanış %90")
    units = (
        Unit.TEXT,
        Unit.COUNT,
        Unit.WORKING_DAYS,
        Unit.WORKING_DAYS,
        Unit.COUNT,
        Unit.WORKING_DAYS,
        Unit.WORKING_DAYS,
    )
    note = "İş günü: hafta sonları ve resmî tatiller sayılmaz; medyan ve %90 en yakın sıra yöntemiyle."
    return Section(
        "sureler",
        SECTIONS["sureler"],
        (
            Table(
                "sureler-genel",
                "Yanıt ve kapanış süreleri (iş günü)",
                ("Kapsam", *columns),
                units,
                (_durations_row(data, "Genel", None),),
                None,
                note,
            ),
            Table(
                "sureler-mudurluk",
                "Müdürlüğe göre yanıt ve kapanış süreleri (iş günü)",
                ("Müdürlük", *columns),
                units,
                tuple(_durations_row(data, data.name("mudurluk", k), k) for k in data.keys("mudurluk")),
                Chart("hbar", 0, (2, 3)),
                note,
            ),
        ),
    )


RATES = (
    ("uygunsuzluk-orani", "Uygunsuzluk", "nonconforming", "requests"),
    ("yeniden-acilma-orani", "Yeniden açılma", "reopened", "requests"),
    ("kuruma-yonlendirme-orani", "Başka kuruma yönlendirme", "redirected", "requests"),
    ("yanlis-mudurluk-orani", "Yanlış müdürlüğe yönlendirme", "wrong_directorate", "requests"),
    ("bilgi-yanitsiz-orani", "Yanıtsız kalan bilgi talebi", "info_unanswered", "info_requested"),
)


def _rates(data: _Data) -> Section:
    sums = data.sums()
    overall = Table(
        "oranlar",
        "Oranlar",
        ("Gösterge", "Sayı", "Kapsam", "Oran"),
        (Unit.TEXT, Unit.COUNT, Unit.COUNT, Unit.PERCENT),
        tuple(
            (
                Cell(label),
                Cell(sums[part], key),
                Cell(sums[whole], "talep-sayisi" if whole == "requests" else "bilgi-istenen"),
                Cell(_share(sums[part], sums[whole]), key),
            )
            for key, label, part, whole in RATES
        ),
        Chart("hbar", 0, (3,)),
        " ".join(f"{FIGURES[k].title}: {FIGURES[k].tanim}" for k, *_ in RATES),
    )
    by_directorate = Table(
        "oranlar-mudurluk",
        "Müdürlüğe göre oranlar",
        ("Müdürlük", "Talep", *(label for _, label, _, _ in RATES)),
        (Unit.TEXT, Unit.COUNT, *(Unit.PERCENT for _ in RATES)),
        tuple(
            (
                Cell(data.name("mudurluk", d)),
                Cell(data.sums("mudurluk", d)["requests"], "talep-sayisi", {"mudurluk": d}),
                *(
                    Cell(
                        _share(data.sums("mudurluk", d)[part], data.sums("mudurluk", d)[whole]),
                        key,
                        {"mudurluk": d},
                    )
                    for key, _, part, whole in RATES
                ),
            )
            for d in data.keys("mudurluk")
        ),
        None,
    )
    return Section("oranlar", SECTIONS["oranlar"], (overall, by_directorate))


def _iso10002(data: _Data) -> Section:
    groups = [("Genel", "", ""), *((data.name("mudurluk", d), "mudurluk", d) for d in data.keys("mudurluk"))]

    def objection_row(label: str, group: str, key: str) -> tuple[Cell, ...]:
        s, where = data.sums(group, key), ({group: key} if group else {})
        return (
            Cell(label),
            Cell(s["answered"], "yanitlanan", where),
            Cell(s["objected"], "itiraz-edilen", where),
            Cell(s["objection_upheld"], "itiraz-kabul", where),
            Cell(s["objection_rejected"], "itiraz-ret", where),
            Cell(s["objection_open"], "itiraz-acik", where),
        )

    def rating_row(label: str, group: str, key: str) -> tuple[Cell, ...]:
        s, where = data.sums(group, key), ({group: key} if group else {})
        average = round(s["rating_sum"] / s["rated"], 2) if s["rated"] else None
        return (
            Cell(label),
            Cell(s["invited"], "memnuniyet-davet", where),
            Cell(_share(s["rated_invited"], s["invited"]), "memnuniyet-yanit-orani", where),
            Cell(average, "memnuniyet-ortalamasi", where),
            Cell(_share(s["rating_low"], s["rated"]), "dusuk-puan-orani", where),
        )

    total = data.sums()
    objections = Table(
        "itirazlar",
        "İtirazlar ve sonuçları",
        (
            "Kapsam",
            "Yanıtlanan",
            "İtiraz edilen",
            "Kabul (yeniden açıldı)",
            "Ret (kapanış onaylandı)",
            "Değerlendirmede",
        ),
        (Unit.TEXT, Unit.COUNT, Unit.COUNT, Unit.COUNT, Unit.COUNT, Unit.COUNT),
        tuple(objection_row(*g) for g in groups),
        Chart("stacked-bar", 0, (3, 4, 5)),
        None if total["objected"] else NO_DATA,
    )
    ratings = Table(
        "memnuniyet",
        "Memnuniyet",
        ("Kapsam", "Davet gönderilen", "Yanıt oranı", "Ortalama puan", "Düşük puan oranı"),
        (Unit.TEXT, Unit.COUNT, Unit.PERCENT, Unit.SCORE, Unit.PERCENT),
        tuple(rating_row(*g) for g in groups),
        Chart("hbar", 0, (3,)),
        None if total["rated"] else NO_DATA,
    )
    return Section("iso10002", SECTIONS["iso10002"], (objections, ratings))


# ---------------------------------------------------------------- DİFs (straight from their tables)


def _dif_params(data: _Data) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {
        "start": data.filters.start,
        "end": data.filters.end,
        "now": data.now,
        "today": data.today,
    }
    if data.filters.directorate is None:
        return "true", params
    params["directorate"] = data.filters.directorate
    return "d.directorate_code = :directorate", params


def _count_difs(data: _Data, figure: str, extra: str = "true") -> int:
    scope, params = _dif_params(data)
    return int(
        data.session.scalar(
            text(f"SELECT count(*) FROM difs d WHERE {scope} AND ({FIGURES[figure].condition}) AND {extra}"),
            params,
        )
        or 0
    )


def _count_actions(data: _Data, condition: str) -> int:
    scope, params = _dif_params(data)
    return int(
        data.session.scalar(
            text(
                "SELECT count(*) FROM dif_actions a JOIN difs d ON d.id = a.dif_id"
                f" WHERE {scope} AND (a.due_at AT TIME ZONE 'Europe/Istanbul')::date BETWEEN :start AND :end"
                f" AND {condition}"
            ),
            params,
        )
        or 0
    )


def _difs(data: _Data) -> Section:
    scope, params = _dif_params(data)
    band, more = _band_case(DIF_AGE_BANDS, "d.opened_at", data.today)
    by_age = dict.fromkeys(DIF_AGE_BANDS, 0)
    for key, n in data.session.execute(
        text(
            f"SELECT {band}, count(*) FROM difs d"
            f" WHERE {scope} AND {FIGURES['dif-acik'].condition} GROUP BY 1"
        ),
        {**params, **more},
    ):
        by_age[key] = int(n)
    open_table = Table(
        "dif-acik-yas",
        "Açık DİF'ler (açılıştan bu yana)",
        ("Yaş", "Açık DİF"),
        (Unit.TEXT, Unit.COUNT),
        tuple(
            (Cell(label), Cell(by_age[k], "dif-acik", {"yas": k}))
            for k, (label, _, _) in DIF_AGE_BANDS.items()
        ),
        Chart("bar", 0, (1,)),
        FIGURES["dif-acik"].tanim,
    )
    actions = (
        ("dif-eylem-zamaninda", "a.status = 'tamamlandi' AND a.completed_at <= a.due_at"),
        ("dif-eylem-gec", "a.status = 'tamamlandi' AND a.completed_at > a.due_at"),
        ("dif-eylem-geciken", "a.status <> 'tamamlandi' AND a.due_at < :now"),
        ("dif-eylem-bekleyen", "a.status <> 'tamamlandi' AND a.due_at >= :now"),
    )
    action_table = Table(
        "dif-eylemler",
        "Dönemde süresi dolan DİF eylemleri",
        ("Durum", "Eylem"),
        (Unit.TEXT, Unit.COUNT),
        tuple((Cell(FIGURES[k].title), Cell(_count_actions(data, c), k)) for k, c in actions),
        Chart("bar", 0, (1,)),
    )
    waits: dict[str, dict[int, int]] = {step: {} for step in APPROVAL_STEPS}
    waiting = data.session.execute(
        text(
            f"SELECT d.status, {WAITING_SINCE} FROM difs d"
            f" WHERE {scope} AND {FIGURES['dif-onay-bekleyen'].condition}"
        ),
        params,
    ).all()
    for (status, _), waited in zip(
        waiting, _working_days_back((w[1] for w in waiting), data.today), strict=True
    ):
        step = next(s for s, (_, st) in APPROVAL_STEPS.items() if st == status)
        waits[step][waited] = waits[step].get(waited, 0) + 1
    approvals = Table(
        "dif-onaylar",
        "Onay bekleyen DİF'ler",
        ("Adım", "Bekleyen", "Bekleme medyan", "En uzun bekleme"),
        (Unit.TEXT, Unit.COUNT, Unit.WORKING_DAYS, Unit.WORKING_DAYS),
        tuple(
            (
                Cell(label),
                Cell(sum(waits[step].values()), "dif-onay-bekleyen", {"adim": step}),
                Cell(nearest_rank(waits[step], 0.5), "dif-onay-bekleme-medyan", {"adim": step}),
                Cell(max(waits[step], default=None), "dif-onay-bekleme-en-uzun", {"adim": step}),
            )
            for step, (label, _) in APPROVAL_STEPS.items()
        ),
        Chart("bar", 0, (1,)),
        FIGURES["dif-onay-bekleme-medyan"].tanim,
    )
    verified, returned = _count_difs(data, "dif-dogrulanan"), _count_difs(data, "dif-dogrulama-iade")
    checks = Table(
        "dif-dogrulama",
        "Etkinlik doğrulaması",
        ("Doğrulanan DİF", "Geri gönderilen", "Geri gönderme oranı"),
        (Unit.COUNT, Unit.COUNT, Unit.PERCENT),
        (
            (
                Cell(verified, "dif-dogrulanan"),
                Cell(returned, "dif-dogrulama-iade"),
                Cell(_share(returned, verified), "dif-dogrulama-iade-orani"),
            ),
        ),
        None,
        FIGURES["dif-dogrulama-iade"].tanim,
    )
    return Section("dif", SECTIONS["dif"], (open_table, action_table, approvals, checks))


def _management(data: _Data) -> Section:
    top = sorted(
        (k for k in data.keys("kategori") if data.sums("kategori", k)["nonconforming"]),
        key=lambda k: (-data.sums("kategori", k)["nonconforming"], k),
    )[:TOP_CATEGORIES]
    categories = Table(
        "yonetim-uygunsuzluk-kategorileri",
        "Uygunsuzluğun en çok görüldüğü kategoriler",
        ("Kategori", "Müdürlük", "Uygunsuzluk kaydedilen", "Talep", "Uygunsuzluk oranı"),
        (Unit.TEXT, Unit.TEXT, Unit.COUNT, Unit.COUNT, Unit.PERCENT),
        tuple(
            (
                Cell(data.name("kategori", k)),
                Cell(data.name("mudurluk", data.categories[k][1]) if k in data.categories else UNROUTED),
                Cell(data.sums("kategori", k)["nonconforming"], "uygunsuz-talep", {"kategori": k}),
                Cell(data.sums("kategori", k)["requests"], "talep-sayisi", {"kategori": k}),
                Cell(
                    _share(data.sums("kategori", k)["nonconforming"], data.sums("kategori", k)["requests"]),
                    "uygunsuzluk-orani",
                    {"kategori": k},
                ),
            )
            for k in top
        ),
        Chart("hbar", 0, (2,)),
        None if top else "Dönemde uygunsuzluk kaydedilmedi.",
    )
    summary = Table(
        "yonetim-dif-ozet",
        "Dönemde açılan ve kapanan DİF'ler",
        ("Açılan", "Kapanan", "İlk doğrulamada etkin"),
        (Unit.COUNT, Unit.COUNT, Unit.COUNT),
        (
            tuple(
                Cell(_count_difs(data, k), k)
                for k in ("dif-acilan", "dif-kapanan", "dif-ilk-dogrulamada-etkin")
            ),
        ),
    )
    scope, params = _dif_params(data)
    in_period = f"{scope} AND (({FIGURES['dif-acilan'].condition}) OR ({FIGURES['dif-kapanan'].condition}))"
    listed = data.session.execute(
        text(
            "SELECT d.number, d.directorate_code, d.status, d.opened_at, d.closed_at,"
            " (SELECT count(*) FROM dif_approvals p WHERE p.dif_id = d.id AND p.step = 'eys-dogrulama'"
            "  AND p.decision = 'geri-gonder') AS returns"
            f" FROM difs d WHERE {in_period} ORDER BY d.opened_at, d.number LIMIT {LISTED_DIFS}"
        ),
        params,
    ).all()
    total = len(listed)
    if total == LISTED_DIFS:
        total = int(data.session.scalar(text(f"SELECT count(*) FROM difs d WHERE {in_period}"), params) or 0)

    def result(closed: datetime | None, status: str, returns: int) -> str:
        if closed is None:
            return f"Açık: {STATUS_NAMES.get(status, status)}"
        if returns:
            return f"Etkin ({returns} kez geri gönderildikten sonra)"
        return "Etkin (ilk doğrulamada)"

    def local(moment: datetime | None) -> str:
        return moment.astimezone(ISTANBUL).date().isoformat() if moment else ""

    difs = Table(
        "yonetim-difler",
        "Dönemde açılan ya da kapanan DİF'ler ve etkinlik sonuçları",
        ("DİF no", "Müdürlük", "Durum", "Açılış", "Kapanış", "Doğrulamada geri gönderme", "Sonuç"),
        (Unit.TEXT, Unit.TEXT, Unit.TEXT, Unit.TEXT, Unit.TEXT, Unit.COUNT, Unit.TEXT),
        tuple(
            (
                Cell(r.number),
                Cell(data.name("mudurluk", r.directorate_code)),
                Cell(STATUS_NAMES.get(r.status, r.status)),
                Cell(local(r.opened_at)),
                Cell(local(r.closed_at)),
                Cell(int(r.returns)),
                Cell(result(r.closed_at, r.status, int(r.returns))),
            )
            for r in listed
        ),
        None,
        "Dönemde açılan ya da kapanan DİF yok."
        if not listed
        else (
            f"İlk {LISTED_DIFS} DİF gösteriliyor (toplam {total}); tamamı yukarıdaki açılan ve kapanan "
            "sayılarının bağlantısındadır."
            if total > len(listed)
            else None
        ),
    )
    return Section("yonetim", SECTIONS["yonetim"], (categories, summary, difs))


def report(session: Session, filters: Filters, *, scope: str | None, now: datetime) -> Report:
    """Every section for the filters, within the caller's directorate scope (None: all)."""
    filters = filters.scoped(scope)
    data = _Data(session, filters, now)
    sections = (
        _volume(data),
        _service_time(data),
        _times(data),
        _rates(data),
        _difs(data),
        _iso10002(data),
        _management(data),
    )
    return Report(filters=filters, scope=scope, generated_at=now.astimezone(ISTANBUL), sections=sections)


# ---------------------------------------------------------------- behind


def behind(
    session: Session,
    figure: str,
    filters: Filters,
    where: dict[str, str],
    *,
    scope: str | None,
    now: datetime,
) -> Behind:
    """The requests (or DİFs) that the number `figure` at `where` counts: for a rate its numerator,
    for a median or percentile the rows it is taken over. Unknown figure: KeyError."""
    definition = FIGURES[figure]
    narrowed = _narrow(filters, where, scope)
    today = now.astimezone(ISTANBUL).date()
    if definition.rows == "difs":
        clauses = [f"({definition.condition})"]
        params: dict[str, Any] = {"start": narrowed.start, "end": narrowed.end, "now": now, "today": today}
        if narrowed.directorate is not None:
            clauses.append("d.directorate_code = :directorate")
            params["directorate"] = narrowed.directorate
        if "yas" in where:
            band, more = _band_case(DIF_AGE_BANDS, "d.opened_at", today)
            clauses.append(f"{band} = :age_band")
            params.update(more, age_band=where["yas"])
        if "adim" in where:
            if where["adim"] not in APPROVAL_STEPS:
                raise UnknownNarrowing(f"adim: {where['adim']}")
            clauses.append("d.status = :step_status")
            params["step_status"] = APPROVAL_STEPS[where["adim"]][1]
        condition = text(" AND ".join(clauses)).bindparams(**_used(params, clauses))
        difs = Dif.__table__.alias("d")
        return Behind("difs", select(difs.c.id).where(condition))
    clauses, params = _conditions(narrowed, "f", "received_day")
    clauses.append(f"({definition.condition})")
    params.update(now=now, today=today)
    if "gecikme" in where:
        band, more = _band_case(OVERDUE_BANDS, "f.due_at", today)
        clauses.append(f"{band} = :late_band")
        params.update(more, late_band=where["gecikme"])
    condition = text(" AND ".join(clauses)).bindparams(**_used(params, clauses))
    table = IndicatorRequest.__table__.alias("f")
    return Behind("requests", select(table.c.request_id).where(condition))


def _used(params: Mapping[str, Any], clauses: Iterable[str]) -> dict[str, Any]:
    """Only the parameters the SQL names (text() refuses unknown ones)."""
    sql = " ".join(clauses)
    return {k: v for k, v in params.items() if f":{k}" in sql}
