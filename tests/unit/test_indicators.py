"""The monitoring figures on real PostgreSQL (rolled back per test): a month of requests and DİFs
with known answers — Kurban Bayramı and 23 Nisan, weekends, a reopened, a redirected, a wrongly
routed, an unanswered information request, overdue ones, a merged duplicate, DİFs in every state —
every figure asserted against values worked out by hand in the comments below.

April 2030 (1 April is a Monday). Non-working: weekends; 15–16 April (Kurban Bayramı; 13–14 fall
on the weekend); 23 April; 1 May. Working days of April: 1–5, 8–12, 17–19, 22, 24–26, 29–30.
Now is Monday 6 May 2030, 10:00 Istanbul."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from services import indicator_figures, service_time
from services.citizen_requests import new_tracking_code
from services.indicator_refresh import LOCK_KEY, SUMMARIES, ensure_calendar, rebuild, refresh
from services.indicator_tables import Filters, Granularity, Report, Unit
from services.indicators import FIGURES, _since, _working_days_between, behind, report
from services.models import (
    Category,
    CitizenRequest,
    Dif,
    DifAction,
    DifApproval,
    Directorate,
    Finding,
    Nonconformity,
    Objection,
    RequestEvent,
    SatisfactionRating,
)
from services.working_days import ISTANBUL

FEN, PARK = "ind-fen", "ind-park"
CUKUR, ASFALT, AGAC = "ind-cukur", "ind-asfalt", "ind-agac"  # 5, 10, 5 working days
APRIL = Filters(start=datetime(2030, 4, 1).date(), end=datetime(2030, 4, 30).date())
NOW = datetime(2030, 5, 6, 10, 0, tzinfo=ISTANBUL)


def ist(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=ISTANBUL)


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


class Data:
    """Builds the rows; `r` and `d` name them as the comments do (R1…, DIF-A…)."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.r: dict[str, uuid.UUID] = {}
        self.d: dict[str, uuid.UUID] = {}
        for code, name in ((FEN, "Fen İşleri (test)"), (PARK, "Park ve Bahçeler (test)")):
            session.add(
                Directorate(
                    code=code,
                    name=name,
                    email=f"{code}@example.org",
                    director_email=f"mudur-{code}@example.org",
                    staff_group=code,
                    director_group=f"{code}-mudur",
                    head_email=f"daire-{code}@example.org",
                )
            )
        session.flush()
        for code, name, directorate, days in (
            (CUKUR, "Yolda çukur (test)", FEN, 5),
            (ASFALT, "Asfalt (test)", FEN, 10),
            (AGAC, "Ağaç budama (test)", PARK, 5),
        ):
            session.add(Category(code=code, name=name, directorate_code=directorate, service_days=days))
        session.flush()

    def request(
        self,
        name: str,
        channel: str,
        category: str | None,
        received: datetime,
        *,
        due: datetime | None = None,
        closed: datetime | None = None,
        status: str = "mudurlukte",
        merged_into: str | None = None,
    ) -> uuid.UUID:
        directorate = {CUKUR: FEN, ASFALT: FEN, AGAC: PARK, None: None}[category]
        row = CitizenRequest(
            id=uuid.uuid4(),
            tracking_code=new_tracking_code(),
            channel=channel,
            channel_reference=str(uuid.uuid4()),
            request_type="istek",
            category_code=category,
            description="Test talebi.",
            status=status,
            directorate_code=directorate,
            received_at=received,
            due_at=due,
            closed_at=closed,
            merged_into_id=self.r[merged_into] if merged_into else None,
        )
        self.s.add(row)
        self.s.flush()
        self.r[name] = row.id
        self.event(name, "alindi", received)
        if category is not None and due is not None:
            self.event(name, "yonlendirildi", received, {"dueAt": due.isoformat(), "categoryCode": category})
        return row.id

    def event(self, name: str, event: str, at: datetime, details: dict[str, Any] | None = None) -> None:
        self.s.add(
            RequestEvent(request_id=self.r[name], at=at, actor="sistem", event=event, details=details or {})
        )
        self.s.flush()

    def nonconformity(self, request: str | None, directorate: str) -> uuid.UUID:
        row = Nonconformity(
            number=f"UYG-T-{uuid.uuid4().hex[:10]}",
            request_id=self.r[request] if request else None,
            directorate_code=directorate,
            description="Hizmet uygun değil.",
            source="kapatma-kontrolu" if request else "ic-tetkik",
            found_by="eys",
            found_at=ist(4, 1),
            status="kapatildi",
        )
        self.s.add(row)
        self.s.flush()
        return row.id

    def dif(
        self, name: str, directorate: str, status: str, opened: datetime, closed: datetime | None = None
    ) -> uuid.UUID:
        finding = Finding(
            number=f"BLG-T-{uuid.uuid4().hex[:10]}",
            nonconformity_id=self.nonconformity(None, directorate),
            directorate_code=directorate,
            description="Bulgu.",
            opened_at=opened,
        )
        self.s.add(finding)
        self.s.flush()
        row = Dif(
            number=f"DIF-{name}-{uuid.uuid4().hex[:6]}",
            finding_id=finding.id,
            directorate_code=directorate,
            status=status,
            opened_at=opened,
            closed_at=closed,
        )
        self.s.add(row)
        self.s.flush()
        self.d[name] = row.id
        return row.id

    def action(self, dif: str, position: int, due: datetime, completed: datetime | None = None) -> None:
        self.s.add(
            DifAction(
                dif_id=self.d[dif],
                position=position,
                description="Eylem.",
                responsible="sorumlu",
                responsible_email="sorumlu@example.org",
                due_at=due,
                status="tamamlandi" if completed else "acik",
                completed_at=completed,
            )
        )
        self.s.flush()

    def approval(self, dif: str, step: str, decision: str, at: datetime) -> None:
        self.s.add(
            DifApproval(
                dif_id=self.d[dif],
                step=step,
                decision=decision,
                comment="Karar.",
                actor="onaylayan",
                at=at,
                details={},
                idempotency_key=f"test:{uuid.uuid4()}",
            )
        )
        self.s.flush()


@pytest.fixture()
def data(session: Session) -> Data:
    d = Data(session)
    # R1 web/çukur, Fri 12 Apr; due 5 wd → 17,18,19,22,24: 24 Apr. Answered Wed 17 Apr (13–14
    # weekend, 15–16 Kurban Bayramı): 1 wd, on time, closed. Invited, rated 5.
    d.request("R1", "web", CUKUR, ist(4, 12), due=ist(4, 24), closed=ist(4, 17, 14), status="kapatildi")
    d.event("R1", "yanitlandi", ist(4, 17, 14), {"answer": "olumlu"})
    d.event("R1", "memnuniyet-daveti-gonderildi", ist(4, 17, 15), {"sent": True})
    d.s.add(SatisfactionRating(request_id=d.r["R1"], score=5, rated_at=ist(4, 18)))
    # R2 web/çukur, Mon 22 Apr; due 24,25,26,29,30 → 30 Apr 09:00. First answer Thu 25 Apr (23
    # Nisan off): 2 wd, on time. Nonconformity, reopened 29 Apr (new due 7 May), closed again
    # Thu 2 May: 24,25,26,29,30,2 → 6 wd.
    d.request("R2", "web", CUKUR, ist(4, 22, 9), due=ist(5, 7, 9), closed=ist(5, 2, 16), status="kapatildi")
    d.s.execute(
        select(RequestEvent).where(
            RequestEvent.request_id == d.r["R2"], RequestEvent.event == "yonlendirildi"
        )
    ).scalar_one().details = {"dueAt": ist(4, 30, 9).isoformat(), "categoryCode": CUKUR}
    d.event("R2", "yanitlandi", ist(4, 25, 11), {"answer": "olumlu"})
    d.nonconformity("R2", FEN)
    d.event("R2", "yeniden-acildi", ist(4, 29, 9))
    d.event("R2", "yanitlandi", ist(5, 2, 16), {"answer": "olumlu"})
    # R3 call centre/asfalt, Tue 2 Apr; due 10 wd → 3,4,5,8,9,10,11,12,17,18: 18 Apr. Answered
    # Fri 19 Apr: 11 wd, late; closed. Objection rejected. Invited, rated 1 (low).
    d.request(
        "R3",
        "cagri-merkezi",
        ASFALT,
        ist(4, 2, 11),
        due=ist(4, 18, 11),
        closed=ist(4, 19),
        status="kapatildi",
    )
    d.event("R3", "yanitlandi", ist(4, 19), {"answer": "olumsuz"})
    d.s.add(
        Objection(request_id=d.r["R3"], received_at=ist(4, 20), reason="İtiraz.", status="kapanis-onaylandi")
    )
    d.event("R3", "memnuniyet-daveti-gonderildi", ist(4, 19, 11), {"sent": True})
    d.s.add(SatisfactionRating(request_id=d.r["R3"], score=1, rated_at=ist(4, 20)))
    # R4 mobile/ağaç, Wed 3 Apr 08:00; due 4,5,8,9,10 → 10 Apr. Redirected to another institution
    # (after a nonconformity) Fri 5 Apr: first answer, 2 wd, on time, closed.
    d.request(
        "R4",
        "mobil",
        AGAC,
        ist(4, 3, 8),
        due=ist(4, 10, 8),
        closed=ist(4, 5, 16),
        status="kuruma-yonlendirildi",
    )
    d.nonconformity("R4", PARK)
    d.event("R4", "kuruma-yonlendirildi", ist(4, 5, 16), {"institutionCode": "meski"})
    # R5 web, Mon 8 Apr: first routed to Fen (çukur), sent back as the wrong directorate, routed to
    # Park (ağaç): due from receipt 9,10,11,12,17 → 17 Apr 09:00. Unanswered, open: overdue by
    # 18,19,22,24,25,26,29,30,2,3,6 = 11 wd (band 11+).
    d.request("R5", "web", AGAC, ist(4, 8, 9), due=ist(4, 17, 9))
    d.event("R5", "mudurluk-degerlendirmesi", ist(4, 9), {"outcome": "yanlis-mudurluk"})
    d.event("R5", "yonlendirildi", ist(4, 9, 12), {"dueAt": ist(4, 17, 9).isoformat(), "categoryCode": AGAC})
    # R6 web/çukur, Thu 4 Apr; due 5,8,9,10,11 → 11 Apr. Information asked, the citizen never
    # replied; answered Mon 22 Apr: 10 wd, late; closed. Invitation not sent (no contact).
    d.request("R6", "web", CUKUR, ist(4, 4), due=ist(4, 11), closed=ist(4, 22), status="kapatildi")
    d.event("R6", "bilgi-istendi", ist(4, 5), {"question": "?"})
    d.event("R6", "vatandas-yanit-vermedi", ist(4, 19))
    d.event("R6", "yanitlandi", ist(4, 22), {"answer": "olumsuz"})
    d.event("R6", "memnuniyet-daveti-gonderildi", ist(4, 22, 11), {"sent": False})
    # R7 web/çukur, received on 23 Nisan (holiday) 12:00; due 24,25,26,29,30 → 30 Apr 12:00.
    # Information asked and given; answered Wed 24 Apr: 1 wd, on time; closed. Objection open.
    # Invited, not rated.
    d.request(
        "R7",
        "web",
        CUKUR,
        ist(4, 23, 12),
        due=ist(4, 30, 12),
        closed=ist(4, 24, 15),
        status="itiraz-degerlendirmede",
    )
    d.event("R7", "bilgi-istendi", ist(4, 24, 9), {"question": "?"})
    d.event("R7", "vatandas-yanitladi", ist(4, 24, 12))
    d.event("R7", "yanitlandi", ist(4, 24, 15), {"answer": "olumlu"})
    d.event("R7", "memnuniyet-daveti-gonderildi", ist(4, 24, 16), {"sent": True})
    d.s.add(Objection(request_id=d.r["R7"], received_at=ist(5, 3), reason="İtiraz.", status="acik"))
    # R8 call centre/asfalt, Mon 29 Apr; due 30,2,3,6,7,8,9,10,13,14 → 14 May: open, not due.
    d.request("R8", "cagri-merkezi", ASFALT, ist(4, 29), due=ist(5, 14))
    # R9 web/çukur, Thu 25 Apr; due 26,29,30,2,3 → Fri 3 May. Open: overdue by 1 wd (band 0-1).
    d.request("R9", "web", CUKUR, ist(4, 25), due=ist(5, 3))
    # R10: a duplicate merged into R3 — in no figure.
    d.request("R10", "web", CUKUR, ist(4, 10), due=ist(4, 17), status="birlestirildi", merged_into="R3")
    # R11 (29 March) and R13 (1 May 00:30 Istanbul = 30 April 21:30 UTC) lie outside April;
    # R12 (30 April 23:30 Istanbul) inside. R12 due 2,3,6,7,8 → 8 May: not overdue.
    d.request("R11", "web", CUKUR, ist(3, 29), due=ist(4, 5))
    d.request("R12", "web", AGAC, ist(4, 30, 23, 30), due=ist(5, 8, 23, 30))
    d.request("R13", "web", AGAC, ist(5, 1, 0, 30), due=ist(5, 9, 0, 30))
    # R14 e-mail, 10 Apr: category not found, never routed (no directorate, no due date).
    d.request("R14", "eposta", None, ist(4, 10), status="yonlendirme-bekliyor")
    d.event("R14", "kategori-bulunamadi", ist(4, 10))
    # R15 web/ağaç, Mon 1 Apr 09:00; due 2,3,4,5,8 → 8 Apr 09:00. Answered Tue 2 Apr: 1 wd, on
    # time. Objection upheld Thu 4 Apr: reopened (new due 11 Apr), open: overdue by
    # 12,17,18,19,22,24,25,26,29,30,2,3,6 = 13 wd. Invited, rated 4.
    d.request("R15", "web", AGAC, ist(4, 1, 9), due=ist(4, 11, 9), status="yeniden-acildi")
    d.s.execute(
        select(RequestEvent).where(
            RequestEvent.request_id == d.r["R15"], RequestEvent.event == "yonlendirildi"
        )
    ).scalar_one().details = {"dueAt": ist(4, 8, 9).isoformat(), "categoryCode": AGAC}
    d.event("R15", "yanitlandi", ist(4, 2), {"answer": "olumlu"})
    d.event("R15", "memnuniyet-daveti-gonderildi", ist(4, 2, 11), {"sent": True})
    d.s.add(SatisfactionRating(request_id=d.r["R15"], score=4, rated_at=ist(4, 3)))
    d.s.add(
        Objection(request_id=d.r["R15"], received_at=ist(4, 3), reason="İtiraz.", status="yeniden-acildi")
    )
    d.event("R15", "yeniden-acildi", ist(4, 4))

    # DİFs. Age and waits in working days up to Mon 6 May.
    # A (Fen) opened Tue 2 Apr, actions under way: age 20 (11-20). a1 due 10 Apr done 9 Apr (on
    # time); a2 due 19 Apr open (overdue now); a3 due 20 May (not in April).
    d.dif("A", FEN, "uygulamada", ist(4, 2, 9))
    d.action("A", 1, ist(4, 10, 17), ist(4, 9))
    d.action("A", 2, ist(4, 19, 17))
    d.action("A", 3, ist(5, 20, 17))
    # B (Fen) opened Fri 1 Mar: 20 (March) + 19 (April) + 3 (May) = 42 wd (41+). b1 due 5 Apr,
    # done Mon 8 Apr (late); waits for the director since then: 16 wd.
    d.dif("B", FEN, "mudur-onayinda", ist(3, 1))
    d.action("B", 1, ist(4, 5, 17), ist(4, 8))
    # C (Park) opened 15 Apr (a holiday): age 12 (11-20). c1 due 25 Apr done 24 Apr (on time);
    # director approved 22 Apr, IMS sent back 24 Apr, director approved 26 Apr: waits for the IMS
    # verification since Fri 26 Apr: 29,30,2,3,6 = 5 wd.
    d.dif("C", PARK, "eys-dogrulamasinda", ist(4, 15))
    d.action("C", 1, ist(4, 25, 17), ist(4, 24))
    d.approval("C", "mudur-onayi", "onayla", ist(4, 22))
    d.approval("C", "eys-dogrulama", "geri-gonder", ist(4, 24, 15))
    d.approval("C", "mudur-onayi", "onayla", ist(4, 26, 11))
    # D (Park) opened 1 Apr, closed 30 Apr at the first verification; d1 due 12 Apr 17:00 done
    # 12 Apr 09:00 (on time).
    d.dif("D", PARK, "kapatildi", ist(4, 1, 9), ist(4, 30, 15))
    d.action("D", 1, ist(4, 12, 17), ist(4, 12, 9))
    d.approval("D", "eys-dogrulama", "kapat", ist(4, 30, 14))
    # E (Fen) opened 1 Feb, sent back by the IMS office 20 Mar, closed 10 Apr.
    d.dif("E", FEN, "kapatildi", datetime(2030, 2, 1, 10, tzinfo=ISTANBUL), ist(4, 10, 12))
    d.approval("E", "eys-dogrulama", "geri-gonder", ist(3, 20))
    d.approval("E", "eys-dogrulama", "kapat", ist(4, 10, 11))
    # F (Fen) opened Mon 29 Apr, not planned yet: age 30,2,3,6 = 4 (0-10).
    d.dif("F", FEN, "planlanacak", ist(4, 29))
    d.s.flush()
    refresh(d.s, now=NOW)
    return d


def cells(report_: Report, table: str) -> list[list[Any]]:
    return [[c.value for c in row] for row in report_.table(table).rows]


def ids(session: Session, figure: str, where: dict[str, str] | None = None, **kw: Any) -> set[uuid.UUID]:
    found = behind(
        session, figure, kw.pop("filters", APRIL), where or {}, scope=kw.pop("scope", None), now=NOW
    )
    return set(session.scalars(found.ids))


def named(data: Data, *names: str) -> set[uuid.UUID]:
    return {data.d[n] if n in data.d else data.r[n] for n in names}


# ---------------------------------------------------------------- the calendar the hand sums use


def test_the_hand_computed_due_dates_are_the_service_times() -> None:
    category = Category(code="x", name="x", directorate_code=FEN, service_days=5)
    assert service_time.deadline(ist(4, 12), category, "normal") == ist(4, 24)
    assert service_time.deadline(ist(4, 22, 9), category, "normal") == ist(4, 30, 9)
    assert service_time.deadline(ist(4, 23, 12), category, "normal") == ist(4, 30, 12)
    assert service_time.deadline(ist(4, 25), category, "normal") == ist(5, 3)
    category.service_days = 10
    assert service_time.deadline(ist(4, 2, 11), category, "normal") == ist(4, 18, 11)


# ---------------------------------------------------------------- every figure, by hand


def test_volume(session: Session, data: Data) -> None:
    weekly = report(
        session, Filters(APRIL.start, APRIL.end, granularity=Granularity.WEEK), scope=None, now=NOW
    )
    table = weekly.table("hacim-zaman")
    assert table.columns == ("Dönem", "Toplam", "Çağrı merkezi", "E-posta", "Mobil uygulama", "Web")
    # Weeks from Monday: 1–7 Apr R15 R3 R4 R6; 8–14 R5 R14 R1; 15–21 none; 22–28 R2 R7 R9;
    # 29 Apr–5 May R8 R12.
    assert cells(weekly, "hacim-zaman") == [
        ["2030-04-01", 4, 1, 0, 1, 2],
        ["2030-04-08", 3, 0, 1, 0, 2],
        ["2030-04-22", 3, 0, 0, 0, 3],
        ["2030-04-29", 2, 1, 0, 0, 1],
    ]
    assert table.rows[3][1].where == {"baslangic": "2030-04-29", "bitis": "2030-04-30"}
    assert table.rows[0][5].where == {"baslangic": "2030-04-01", "bitis": "2030-04-07", "kanal": "web"}
    monthly = report(
        session, Filters(APRIL.start, APRIL.end, granularity=Granularity.MONTH), scope=None, now=NOW
    )
    assert cells(monthly, "hacim-zaman") == [["2030-04-01", 12, 2, 1, 1, 8]]
    daily = report(session, APRIL, scope=None, now=NOW)
    assert (
        len(daily.table("hacim-zaman").rows) == 12
    )  # days with requests: 1–4, 8, 10, 12, 22, 23, 25, 29, 30
    assert cells(daily, "hacim-kanal") == [
        ["Web", 8],
        ["Çağrı merkezi", 2],
        ["E-posta", 1],
        ["Mobil uygulama", 1],
    ]
    assert cells(daily, "hacim-mudurluk") == [
        ["Fen İşleri (test)", 7],
        ["Park ve Bahçeler (test)", 4],
        ["Yönlendirilmemiş", 1],
    ]
    assert cells(daily, "hacim-kategori") == [
        ["Yolda çukur (test)", 5],
        ["Ağaç budama (test)", 4],
        ["Asfalt (test)", 2],
        ["Yönlendirilmemiş", 1],
    ]
    assert ids(session, "talep-sayisi") == named(
        data, "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R12", "R14", "R15"
    )
    assert ids(
        session, "talep-sayisi", {"baslangic": "2030-04-01", "bitis": "2030-04-07", "kanal": "web"}
    ) == named(data, "R6", "R15")


def test_service_time_compliance_and_overdue_now(session: Session, data: Data) -> None:
    r = report(session, APRIL, scope=None, now=NOW)
    # Answered with a due date: R1 R2 R3 R4 R6 R7 R15 (7), on time R1 R2 R4 R7 R15 (5; R2 and
    # R15 against their first period's due date); unanswered and overdue now: R5 R9 (2).
    assert cells(r, "hizmet-suresi-genel") == [["Genel", 9, 5, 5 / 9]]
    # Fen: R1 R2 R3 R6 R7 answered, R1 R2 R7 on time, R9 overdue; Park: R4 R15 on time, R5 overdue.
    assert cells(r, "hizmet-suresi-mudurluk") == [
        ["Fen İşleri (test)", 6, 3, 0.5],
        ["Park ve Bahçeler (test)", 3, 2, 2 / 3],
        ["Yönlendirilmemiş", 0, 0, None],
    ]
    assert cells(r, "hizmet-suresi-kategori") == [
        ["Yolda çukur (test)", 5, 3, 0.6],
        ["Ağaç budama (test)", 3, 2, 2 / 3],
        ["Asfalt (test)", 1, 0, 0.0],
        ["Yönlendirilmemiş", 0, 0, None],
    ]
    # Open past due now: R9 by 1 wd, R5 by 11, R15 (reopened) by 13.
    assert cells(r, "geciken-acik") == [
        ["0–1 iş günü", 1],
        ["2–5 iş günü", 0],
        ["6–10 iş günü", 0],
        ["11 iş günü ve üzeri", 2],
    ]
    assert ids(session, "sure-icinde-yanit-orani") == named(data, "R1", "R2", "R4", "R7", "R15")
    assert ids(session, "hizmet-suresi-kapsami", {"mudurluk": FEN}) == named(
        data, "R1", "R2", "R3", "R6", "R7", "R9"
    )
    assert ids(session, "geciken-acik", {"gecikme": "11+"}) == named(data, "R5", "R15")
    assert ids(session, "geciken-acik", {"gecikme": "0-1"}) == named(data, "R9")


def test_times_to_answer_and_close_in_working_days(session: Session, data: Data) -> None:
    r = report(session, APRIL, scope=None, now=NOW)
    # First answers: R1 1, R2 2, R3 11, R4 2, R6 10, R7 1, R15 1 → 1 1 1 2 2 10 11: median (rank
    # 4) 2, p90 (rank 7) 11. Closed: R1 1, R2 6, R3 11, R4 2, R6 10, R7 1 → 1 1 2 6 10 11: median
    # (rank 3) 2, p90 (rank 6) 11.
    assert cells(r, "sureler-genel") == [["Genel", 7, 2, 11, 6, 2, 11]]
    # Fen answers 1 1 2 10 11 (median 2, p90 11), closes 1 1 6 10 11 (6, 11); Park answers 1 2
    # (1, 2), closes 2 (2, 2).
    assert cells(r, "sureler-mudurluk") == [
        ["Fen İşleri (test)", 5, 2, 11, 5, 6, 11],
        ["Park ve Bahçeler (test)", 2, 1, 2, 1, 2, 2],
        ["Yönlendirilmemiş", 0, None, None, 0, None, None],
    ]
    assert ids(session, "kapanis-suresi-p90", {"mudurluk": PARK}) == named(data, "R4")
    assert ids(session, "yanit-suresi-medyan") == named(data, "R1", "R2", "R3", "R4", "R6", "R7", "R15")


def test_rates(session: Session, data: Data) -> None:
    r = report(session, APRIL, scope=None, now=NOW)
    assert cells(r, "oranlar") == [
        ["Uygunsuzluk", 2, 12, 2 / 12],  # R2, R4
        ["Yeniden açılma", 2, 12, 2 / 12],  # R2, R15
        ["Başka kuruma yönlendirme", 1, 12, 1 / 12],  # R4
        ["Yanlış müdürlüğe yönlendirme", 1, 12, 1 / 12],  # R5
        ["Yanıtsız kalan bilgi talebi", 1, 2, 0.5],  # R6 of R6, R7
    ]
    assert cells(r, "oranlar-mudurluk")[1] == ["Park ve Bahçeler (test)", 4, 0.25, 0.25, 0.25, 0.25, None]
    assert ids(session, "uygunsuzluk-orani") == named(data, "R2", "R4")
    assert ids(session, "yeniden-acilma-orani") == named(data, "R2", "R15")
    assert ids(session, "kuruma-yonlendirme-orani") == named(data, "R4")
    assert ids(session, "yanlis-mudurluk-orani") == named(data, "R5")
    assert ids(session, "bilgi-istenen") == named(data, "R6", "R7")
    assert ids(session, "bilgi-yanitsiz-orani") == named(data, "R6")


def test_objections_and_satisfaction(session: Session, data: Data) -> None:
    r = report(session, APRIL, scope=None, now=NOW)
    # Objections: R3 rejected, R15 upheld, R7 open. Invited R1 R3 R7 R15 (R6's was not sent);
    # rated R1 5, R3 1, R15 4: response 3/4, average 10/3, low (≤ 2) 1/3.
    assert cells(r, "itirazlar")[0] == ["Genel", 7, 3, 1, 1, 1]
    assert cells(r, "memnuniyet")[0] == ["Genel", 4, 0.75, 3.33, 1 / 3]
    assert cells(r, "memnuniyet")[1] == ["Fen İşleri (test)", 3, 2 / 3, 3.0, 0.5]
    assert r.table("itirazlar").note is None
    assert ids(session, "itiraz-acik") == named(data, "R7")
    assert ids(session, "memnuniyet-yanit-orani") == named(data, "R1", "R3", "R15")
    assert ids(session, "dusuk-puan-orani") == named(data, "R3")
    empty = report(
        session, Filters(datetime(2030, 6, 1).date(), datetime(2030, 6, 30).date()), scope=None, now=NOW
    )
    assert empty.table("memnuniyet").note == "Henüz veri yok"
    assert cells(empty, "memnuniyet") == [["Genel", 0, None, None, None]]


def test_difs(session: Session, data: Data) -> None:
    r = report(session, APRIL, scope=None, now=NOW)
    # Open: F 4 (0-10), A 20 and C 12 (11-20), B 42 (41+).
    assert cells(r, "dif-acik-yas") == [
        ["0–10 iş günü", 1],
        ["11–20 iş günü", 2],
        ["21–40 iş günü", 0],
        ["41 iş günü ve üzeri", 1],
    ]
    # Due in April: a1 c1 d1 on time, b1 late, a2 overdue; a3 is due in May.
    assert cells(r, "dif-eylemler") == [
        ["Zamanında tamamlanan eylem", 3],
        ["Geç tamamlanan eylem", 1],
        ["Süresi geçmiş açık eylem", 1],
        ["Süresi gelmemiş açık eylem", 0],
    ]
    assert cells(r, "dif-onaylar") == [["Müdür onayı", 1, 16, 16], ["EYS doğrulaması", 1, 5, 5]]
    # Verified in April: C (sent back 24 Apr), D, E; sent back: C.
    assert cells(r, "dif-dogrulama") == [[3, 1, 1 / 3]]
    assert ids(session, "dif-acik", {"yas": "11-20"}) == named(data, "A", "C")
    assert ids(session, "dif-onay-bekleyen", {"adim": "mudur-onayi"}) == named(data, "B")
    assert ids(session, "dif-dogrulama-iade") == named(data, "C")
    assert ids(session, "dif-eylem-gec") == named(data, "B")
    assert behind(session, "dif-acik", APRIL, {}, scope=None, now=NOW).kind == "difs"


def test_management_review(session: Session, data: Data) -> None:
    r = report(session, APRIL, scope=None, now=NOW)
    assert cells(r, "yonetim-uygunsuzluk-kategorileri") == [
        ["Ağaç budama (test)", "Park ve Bahçeler (test)", 1, 4, 0.25],
        ["Yolda çukur (test)", "Fen İşleri (test)", 1, 5, 0.2],
    ]
    # Opened in April: A C D F; closed: D E; D never sent back.
    assert cells(r, "yonetim-dif-ozet") == [[4, 2, 1]]
    listed = [row[1:] for row in cells(r, "yonetim-difler")]
    assert listed == [
        [
            "Fen İşleri (test)",
            "Kapatıldı",
            "2030-02-01",
            "2030-04-10",
            1,
            "Etkin (1 kez geri gönderildikten sonra)",
        ],
        ["Park ve Bahçeler (test)", "Kapatıldı", "2030-04-01", "2030-04-30", 0, "Etkin (ilk doğrulamada)"],
        ["Fen İşleri (test)", "Eylemler uygulamada", "2030-04-02", "", 0, "Açık: Eylemler uygulamada"],
        ["Park ve Bahçeler (test)", "EYS doğrulamasında", "2030-04-15", "", 1, "Açık: EYS doğrulamasında"],
        ["Fen İşleri (test)", "Planlanacak", "2030-04-29", "", 0, "Açık: Planlanacak"],
    ]
    assert ids(session, "dif-ilk-dogrulamada-etkin") == named(data, "D")
    assert ids(session, "dif-acilan") == named(data, "A", "C", "D", "F")


def test_a_director_sees_only_their_directorate(session: Session, data: Data) -> None:
    r = report(session, APRIL, scope=PARK, now=NOW)
    assert r.scope == PARK and r.filters.directorate == PARK
    assert cells(r, "hacim-mudurluk") == [["Park ve Bahçeler (test)", 4]]
    assert cells(r, "hacim-kanal") == [["Web", 3], ["Mobil uygulama", 1]]
    assert cells(r, "hizmet-suresi-genel") == [["Genel", 3, 2, 2 / 3]]
    assert cells(r, "dif-acik-yas") == [
        ["0–10 iş günü", 0],
        ["11–20 iş günü", 1],
        ["21–40 iş günü", 0],
        ["41 iş günü ve üzeri", 0],
    ]
    # A director's link to another directorate's cell still lists their own requests only.
    assert ids(session, "talep-sayisi", {"mudurluk": FEN}, scope=PARK) == named(
        data, "R4", "R5", "R12", "R15"
    )
    assert ids(session, "dif-acik", {"mudurluk": FEN}, scope=PARK) == named(data, "C")


def test_every_count_is_the_size_of_the_list_behind_it(session: Session, data: Data) -> None:
    """Each number with a figure: its list has as many rows (DİF actions aside: their list shows
    the DİFs), and every figure appears somewhere in the report."""
    seen: set[str] = set()
    for filters, scope in ((APRIL, None), (replace_dir(APRIL, FEN), None), (APRIL, PARK)):
        r = report(session, filters, scope=scope, now=NOW)
        for section in r.sections:
            for table in section.tables:
                for row in table.rows:
                    for unit, cell in zip(table.units, row, strict=True):
                        if cell.figure is None:
                            continue
                        assert cell.figure in FIGURES
                        seen.add(cell.figure)
                        if unit is Unit.COUNT and not cell.figure.startswith("dif-eylem"):
                            found = behind(session, cell.figure, filters, cell.where, scope=scope, now=NOW)
                            size = session.scalar(select(func.count()).select_from(found.ids.subquery()))
                            assert size == cell.value, (table.key, cell)
    assert seen == set(FIGURES)
    assert [s.key for s in report(session, APRIL, scope=None, now=NOW).sections] == [
        "hacim",
        "hizmet-suresi",
        "sureler",
        "oranlar",
        "dif",
        "iso10002",
        "yonetim",
    ]


def replace_dir(filters: Filters, directorate: str) -> Filters:
    return Filters(filters.start, filters.end, directorate=directorate)


def test_a_refresh_picks_up_new_history(session: Session, data: Data) -> None:
    """R9 is answered after the report: the figures change only after the next refresh."""
    before = report(session, APRIL, scope=None, now=NOW)
    assert cells(before, "sureler-genel") == [["Genel", 7, 2, 11, 6, 2, 11]]
    request = session.get(CitizenRequest, data.r["R9"])
    assert request is not None
    request.closed_at, request.status = ist(5, 6, 9), "kapatildi"
    data.event("R9", "yanitlandi", ist(5, 6, 9), {"answer": "olumlu"})
    assert cells(report(session, APRIL, scope=None, now=NOW), "sureler-genel") == cells(
        before, "sureler-genel"
    )
    assert refresh(session, now=NOW) == 1
    # R9: 26,29,30,2,3,6 = 6 wd, late. Answers 1 1 1 2 2 6 10 11: median (rank 4) 2, p90 (rank 8)
    # 11. Closes 1 1 2 6 6 10 11: median (rank 4) 6, p90 (rank 7) 11.
    after = report(session, APRIL, scope=None, now=NOW)
    assert cells(after, "sureler-genel") == [["Genel", 8, 2, 11, 7, 6, 11]]
    assert cells(after, "hizmet-suresi-genel") == [["Genel", 9, 5, 5 / 9]]
    assert cells(after, "geciken-acik")[0] == ["0–1 iş günü", 0]
    assert refresh(session, now=NOW) == 0


def test_the_doc_lists_every_figure_with_its_definition() -> None:
    text_ = indicator_figures.DOC.read_text(encoding="utf-8")
    assert text_ == indicator_figures.markdown(), "run: python -m services.indicator_figures --write"
    for key, figure in FIGURES.items():
        assert f"| `{key}` | {figure.title} |" in text_
        assert f"| {figure.definition} | {figure.tanim} |" in text_, key
    for rule in indicator_figures.KURALLAR:
        assert f"- {rule}" in text_


# Words an English sentence can hardly do without; none of them is Turkish.
ENGLISH = (" the ", " of ", " and ", " or ", "requests", "received", "answer", "directorate", " due ")


def english_in(text_: str) -> list[str]:
    padded = f" {text_.lower()} "
    return [w for w in ENGLISH if w in padded]


def test_every_figure_and_shared_rule_has_a_turkish_definition() -> None:
    english_rules = (indicator_figures.__doc__ or "").split("Shared rules", 1)[1].count("\n- ")
    assert len(indicator_figures.KURALLAR) == english_rules  # one Turkish item per English rule
    for key, figure in FIGURES.items():
        assert figure.tanim.strip() and figure.tanim != figure.definition, key
        assert english_in(figure.tanim) == [], key
        # Turkish letters in Turkish text, not their ASCII look-alikes only.
        assert any(c in figure.tanim for c in "ıİşŞğĞüÜöÖçÇ"), key
    for rule in indicator_figures.KURALLAR:
        assert rule.strip() and english_in(rule) == [], rule


def test_the_notes_under_the_tables_are_turkish(session: Session, data: Data) -> None:
    for granularity in Granularity:
        r = report(session, Filters(APRIL.start, APRIL.end, granularity=granularity), scope=None, now=NOW)
        notes = {t.key: t.note for s in r.sections for t in s.tables if t.note}
        assert len(notes) >= 10
        for key, note in notes.items():
            assert english_in(note) == [], (key, note)
            assert not any(f.definition in note for f in FIGURES.values()), key
        # The definitions the page shows are the figures' own Turkish ones.
        assert notes["hacim-zaman"] == FIGURES["talep-sayisi"].tanim
        assert notes["geciken-acik"] == FIGURES["geciken-acik"].tanim
        assert FIGURES["yeniden-acilma-orani"].tanim in notes["oranlar"]


def test_periods_that_are_not_whole_months_and_narrower_filters(session: Session, data: Data) -> None:
    """Whole months come from the monthly sums, the other days from the daily ones; a category's
    histograms from its rows."""
    across = report(
        session, Filters(datetime(2030, 3, 29).date(), datetime(2030, 5, 1).date()), scope=None, now=NOW
    )
    assert cells(across, "hacim-kanal")[0] == ["Web", 10]  # April's 8, R11 (29 Mar), R13 (1 May)
    assert across.table("hacim-zaman").rows[0][0].value == "2030-03-29"
    # 3–24 April: R4 R6 R5 R14 R1 R2 R7. Answers R4 2, R6 10, R1 1, R2 2, R7 1 → 1 1 2 2 10.
    inside = report(
        session, Filters(datetime(2030, 4, 3).date(), datetime(2030, 4, 24).date()), scope=None, now=NOW
    )
    assert sum(row[1] for row in cells(inside, "hacim-kanal")) == 7
    assert cells(inside, "sureler-genel") == [["Genel", 5, 2, 10, 5, 2, 10]]
    # Çukur: answers R1 1, R2 2, R6 10, R7 1 → 1 1 2 10; closes R1 1, R2 6, R6 10, R7 1 → 1 1 6 10.
    cukur = report(session, Filters(APRIL.start, APRIL.end, category=CUKUR), scope=None, now=NOW)
    assert cells(cukur, "sureler-genel") == [["Genel", 4, 1, 10, 4, 1, 10]]
    assert cells(cukur, "hacim-kategori") == [["Yolda çukur (test)", 5]]
    # Call centre: R3 (answered and closed in 11) and R8 (open).
    phone = report(session, Filters(APRIL.start, APRIL.end, channel="cagri-merkezi"), scope=None, now=NOW)
    assert cells(phone, "sureler-genel") == [["Genel", 1, 11, 11, 1, 11, 11]]
    assert cells(phone, "hizmet-suresi-genel") == [["Genel", 1, 0, 0.0]]


def _summaries(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(tuple(row) for row in session.execute(text(f"SELECT * FROM {table}")))
        for table in SUMMARIES
    }


def test_the_incremental_summaries_equal_a_rebuild(session: Session, data: Data) -> None:
    """Changes of every kind, refreshed as differences, leave the same tables as recomputing all."""
    r9 = session.get(CitizenRequest, data.r["R9"])
    r1 = session.get(CitizenRequest, data.r["R1"])
    r12 = session.get(CitizenRequest, data.r["R12"])
    assert r9 is not None and r1 is not None and r12 is not None
    r9.closed_at, r9.status = ist(5, 6, 9), "kapatildi"
    data.event("R9", "yanitlandi", ist(5, 6, 9))
    r1.closed_at, r1.status = None, "yeniden-acildi"
    data.event("R1", "yeniden-acildi", ist(5, 2))
    r12.merged_into_id, r12.status = data.r["R5"], "birlestirildi"
    session.add(SatisfactionRating(request_id=data.r["R7"], score=2, rated_at=ist(5, 4)))
    session.flush()
    assert refresh(session, now=NOW) == 4
    incremental = _summaries(session)
    assert data.r["R12"] not in {row[0] for row in incremental["indicator_requests"]}
    rebuild(session, now=NOW)
    assert _summaries(session) == incremental


def test_one_refresh_at_a_time(session: Session, database_url: str) -> None:
    """While another process refreshes (holds the lock), a second refresh returns at once."""
    other = create_engine(database_url)
    try:
        with other.connect() as connection, connection.begin():
            assert connection.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            assert refresh(session, now=NOW) is None
        assert refresh(session, now=NOW) is not None
    finally:
        other.dispose()


def test_band_thresholds_and_waits_agree_with_the_calendar_table(session: Session) -> None:
    """The instants the bands compare against, and DİF waits, count the working days the
    calendar table does (around Kurban Bayramı, 23 Nisan and 1 May)."""
    ensure_calendar(session, NOW.date())
    rows = session.execute(
        text("SELECT day, wd_index FROM working_calendar WHERE day BETWEEN '2030-03-01' AND '2030-05-31'")
    )
    index: dict[date, int] = {day: wd for day, wd in rows}
    today = NOW.date()
    thresholds = _since(today, (1, 2, 6, 11, 21, 41))
    for day in (d for d in index if d <= today):
        moment = datetime.combine(day, datetime.min.time(), ISTANBUL).replace(hour=12)
        back = index[today] - index[day]
        assert _working_days_between(moment, today) == back
        for k, threshold in thresholds.items():
            assert (moment < threshold) == (back >= k), (day, k)
