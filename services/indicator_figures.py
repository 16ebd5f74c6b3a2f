"""Every monitoring figure's definition, once: the code reads the conditions, docs/indicators.md is
generated from the definitions (`python -m services.indicator_figures --write`; a unit test checks).

Shared rules (they hold for every request figure):
- The population is the requests *received* in the period: their Istanbul date of receipt lies in
  the filter's start..end, both inclusive; the directorate, channel and category filters narrow it.
  A request counts for its current directorate and category (after any re-routing).
- Merged duplicates are left out of every figure: their answer is their primary's.
- Working days come from the service time's calendar (services/working_days.py: weekends and Turkish
  public holidays). Between two instants they are the working days d with date(a) < d ≤ date(b),
  dates taken in Europe/Istanbul: received Friday, answered Monday is 1; the same day is 0; received
  on a Saturday or a holiday, answered on the next working day, is 1.
- Service time is judged by instants: the first answer at or before the due date the request was
  given (working days, or clock hours for an urgent one). Requests never routed have no due date:
  they are neither assessed nor overdue.
- The first answer is the first `yanitlandi` or `kuruma-yonlendirildi` history entry (a redirected
  request's answer is its redirection); a reopened request keeps its first answer. Close is the
  request's current `closed_at`: a request reopened and not closed again is open.
- "Now" figures (overdue, DİFs open, approvals waiting) are taken at the report's `now`.
- Medians and 90th percentiles are nearest-rank: the value at rank ⌈p·N⌉ of the N values sorted.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from services.indicator_tables import Unit

DOC = Path(__file__).resolve().parents[1] / "docs" / "indicators.md"


@dataclass(frozen=True)
class Figure:
    title: str  # Turkish, as the page labels it
    unit: Unit
    definition: str  # English, one or two sentences
    tanim: str  # the same definition in Turkish: what the page, the XLSX and the PDF show
    # What the list behind the number holds.
    rows: Literal["requests", "difs"] = "requests"
    # SQL condition on indicator_requests `f` (request figures) or `d` = difs (DİF figures) that
    # selects the rows the number counts (for a rate: its numerator; for a median: its population).
    condition: str = "true"


# The shared rules above in Turkish, for the monitoring page (one item each, same order and meaning).
KURALLAR: tuple[str, ...] = (
    "Kapsam dönemde alınan taleplerdir: İstanbul saatine göre alınma tarihi filtrenin başlangıç ve "
    "bitiş tarihleri arasındadır (ikisi de dahil); müdürlük, kanal ve kategori filtreleri kapsamı "
    "daraltır. Bir talep, yeniden yönlendirmelerden sonraki güncel müdürlüğü ve kategorisi için "
    "sayılır.",
    "Birleştirilen mükerrer talepler hiçbir göstergede sayılmaz: onların yanıtı ana talebin yanıtıdır.",
    "İş günleri hizmet süresinin takviminden gelir: hafta sonları ve resmî tatiller sayılmaz. İki an "
    "arasındaki iş günü sayısı, İstanbul tarihleriyle ilk anın gününden sonraki günden ikinci anın "
    "gününe kadar (o gün dahil) sayılan iş günleridir: cuma alınıp pazartesi yanıtlanan talep 1 iş "
    "günü, aynı gün yanıtlanan 0 iş günü, cumartesi ya da resmî tatilde alınıp sonraki ilk iş günü "
    "yanıtlanan 1 iş günüdür.",
    "Hizmet süresi anlarla değerlendirilir: ilk yanıt, talebe verilen son gün ve saatinde ya da daha "
    "önce verildiyse süresindedir (son gün iş günüyle, acil taleplerde saatle hesaplanır). Hiç "
    "yönlendirilmemiş taleplerin son günü yoktur: ne değerlendirilir ne de süresi geçmiş sayılır.",
    "İlk yanıt, talebin geçmişindeki ilk “yanıtlandı” ya da “kuruma yönlendirildi” kaydıdır (başka "
    "kuruma yönlendirilen talebin yanıtı bu yönlendirmedir); yeniden açılan talep ilk yanıtını korur. "
    "Kapanış, talebin güncel kapanış zamanıdır: yeniden açılıp tekrar kapanmamış talep açıktır.",
    "“Şu an” göstergeleri (süresi geçmiş açık talepler, açık DİF'ler, onay bekleyen DİF'ler) raporun "
    "hazırlandığı anda hesaplanır.",
    "Medyan ve 90. yüzdelik en yakın sıra yöntemiyle bulunur: sıralanmış N değerden ⌈p·N⌉. sıradaki "
    "değer (medyan için p = 0,5; 90. yüzdelik için p = 0,9).",
)

R = "requests"
ANSWERED = "f.first_answer_at IS NOT NULL"
CLOSED = "f.closed_at IS NOT NULL"
OVERDUE = "f.closed_at IS NULL AND f.due_at < :now"
IN_SERVICE_TIME_SCOPE = (
    "(f.first_answer_at IS NOT NULL AND f.first_due_at IS NOT NULL)"
    " OR (f.closed_at IS NULL AND f.first_answer_at IS NULL AND f.due_at < :now)"
)
OPEN_DIF = "d.closed_at IS NULL"
WAITING_DIF = "d.closed_at IS NULL AND d.status IN ('mudur-onayinda', 'eys-dogrulamasinda')"
ACTION_IN_PERIOD = (
    "EXISTS (SELECT 1 FROM dif_actions a WHERE a.dif_id = d.id"
    " AND (a.due_at AT TIME ZONE 'Europe/Istanbul')::date BETWEEN :start AND :end AND {})"
)
VERIFIED_IN_PERIOD = (
    "EXISTS (SELECT 1 FROM dif_approvals p WHERE p.dif_id = d.id AND p.step = 'eys-dogrulama'"
    " AND (p.at AT TIME ZONE 'Europe/Istanbul')::date BETWEEN :start AND :end{})"
)
EYS_RETURNED_EVER = (
    "EXISTS (SELECT 1 FROM dif_approvals p WHERE p.dif_id = d.id AND p.step = 'eys-dogrulama'"
    " AND p.decision = 'geri-gonder')"
)
OPENED_IN_PERIOD = "(d.opened_at AT TIME ZONE 'Europe/Istanbul')::date BETWEEN :start AND :end"
CLOSED_IN_PERIOD = "(d.closed_at AT TIME ZONE 'Europe/Istanbul')::date BETWEEN :start AND :end"

FIGURES: dict[str, Figure] = {
    # ---------------------------------------------------------------- hacim
    "talep-sayisi": Figure(
        "Talep sayısı",
        Unit.COUNT,
        "Requests received in the period (Istanbul date of receipt), merged duplicates excluded; "
        "over time they are bucketed by day, ISO week (Monday) or calendar month of receipt.",
        "Dönemde alınan talepler (İstanbul saatine göre alınma tarihi), birleştirilen mükerrer "
        "talepler hariç; zaman içinde alınma gününe, ISO haftasına (pazartesiden başlayarak) ya da "
        "takvim ayına göre gruplanır.",
    ),
    # ---------------------------------------------------------------- hizmet-suresi
    "hizmet-suresi-kapsami": Figure(
        "Süresi değerlendirilen",
        Unit.COUNT,
        "Requests with a due date that were answered, plus those still unanswered and past their "
        "due date now; requests never routed (no due date) are not assessed.",
        "Son günü olan ve yanıtlanmış talepler ile hâlâ yanıtlanmamış ve son günü şu an geçmiş "
        "talepler; hiç yönlendirilmemiş (son günü olmayan) talepler değerlendirilmez.",
        condition=IN_SERVICE_TIME_SCOPE,
    ),
    "sure-icinde-yanitlanan": Figure(
        "Süresinde yanıtlanan",
        Unit.COUNT,
        "Requests whose first answer came at or before the due date of their first service period "
        "(a reopened request: the due date its last routing before that answer set).",
        "İlk yanıtı, ilk hizmet süresinin son gününde ya da daha önce verilen talepler (yeniden "
        "açılmış bir talepte: o yanıttan önceki son yönlendirmenin belirlediği son gün).",
        condition="f.on_time",
    ),
    "sure-icinde-yanit-orani": Figure(
        "Süresinde yanıt oranı",
        Unit.PERCENT,
        "Süresinde yanıtlanan ÷ süresi değerlendirilen: the share answered within the service time, "
        "unanswered overdue requests counting as late.",
        "Süresinde yanıtlanan ÷ süresi değerlendirilen: hizmet süresi içinde yanıtlanan taleplerin "
        "payı; yanıtlanmamış ve süresi geçmiş talepler geç yanıtlanmış sayılır.",
        condition="f.on_time",
    ),
    "geciken-acik": Figure(
        "Süresi geçmiş açık talep",
        Unit.COUNT,
        "Open requests (not closed, including reopened ones) whose current due date has passed now; "
        "banded by working days past the due date (0–1, 2–5, 6–10, 11 and more).",
        "Şu an açık olan (kapanmamış, yeniden açılanlar dahil) ve güncel son günü geçmiş talepler; "
        "son günden bu yana geçen iş gününe göre gruplanır (0–1, 2–5, 6–10, 11 ve üzeri).",
        condition=OVERDUE,
    ),
    # ---------------------------------------------------------------- sureler
    "yanitlanan": Figure(
        "Yanıtlanan talep",
        Unit.COUNT,
        "Requests with a first answer (yanitlandi or kuruma-yonlendirildi).",
        "İlk yanıtı olan talepler (geçmişinde “yanıtlandı” ya da “kuruma yönlendirildi” kaydı bulunan).",
        condition=ANSWERED,
    ),
    "yanit-suresi-medyan": Figure(
        "Yanıt süresi (medyan)",
        Unit.WORKING_DAYS,
        "Median working days from receipt to the first answer, over the answered requests.",
        "Yanıtlanan taleplerde, alınmadan ilk yanıta kadar geçen iş günlerinin medyanı.",
        condition=ANSWERED,
    ),
    "yanit-suresi-p90": Figure(
        "Yanıt süresi (%90)",
        Unit.WORKING_DAYS,
        "90th percentile (nearest rank) of the working days from receipt to the first answer.",
        "Alınmadan ilk yanıta kadar geçen iş günlerinin 90. yüzdeliği (en yakın sıra yöntemiyle).",
        condition=ANSWERED,
    ),
    "kapanan": Figure(
        "Kapanan talep",
        Unit.COUNT,
        "Requests closed now (closed_at set: answered and not reopened since, or redirected).",
        "Şu an kapalı olan talepler (kapanış zamanı kayıtlı: yanıtlanıp o zamandan beri yeniden "
        "açılmamış ya da başka kuruma yönlendirilmiş).",
        condition=CLOSED,
    ),
    "kapanis-suresi-medyan": Figure(
        "Kapanış süresi (medyan)",
        Unit.WORKING_DAYS,
        "Median working days from receipt to the final close, over the closed requests.",
        "Kapanan taleplerde, alınmadan son kapanışa kadar geçen iş günlerinin medyanı.",
        condition=CLOSED,
    ),
    "kapanis-suresi-p90": Figure(
        "Kapanış süresi (%90)",
        Unit.WORKING_DAYS,
        "90th percentile (nearest rank) of the working days from receipt to the final close.",
        "Alınmadan son kapanışa kadar geçen iş günlerinin 90. yüzdeliği (en yakın sıra yöntemiyle).",
        condition=CLOSED,
    ),
    # ---------------------------------------------------------------- oranlar
    "uygunsuzluk-orani": Figure(
        "Uygunsuzluk oranı",
        Unit.PERCENT,
        "Share of the requests with at least one nonconformity recorded on them.",
        "Üzerine en az bir uygunsuzluk kaydedilmiş taleplerin payı.",
        condition="f.nonconforming",
    ),
    "yeniden-acilma-orani": Figure(
        "Yeniden açılma oranı",
        Unit.PERCENT,
        "Share of the requests reopened at least once (after a nonconformity or an upheld objection).",
        "En az bir kez yeniden açılmış taleplerin payı (bir uygunsuzluk ya da kabul edilen bir itiraz"
        " üzerine).",
        condition="f.reopened",
    ),
    "kuruma-yonlendirme-orani": Figure(
        "Başka kuruma yönlendirme oranı",
        Unit.PERCENT,
        "Share of the requests redirected to another institution (kuruma-yonlendirildi).",
        "Başka bir kuruma yönlendirilen (“kuruma yönlendirildi”) taleplerin payı.",
        condition="f.redirected",
    ),
    "yanlis-mudurluk-orani": Figure(
        "Yanlış müdürlüğe yönlendirme oranı",
        Unit.PERCENT,
        "Share of the requests a directorate sent back as not its own (assessment outcome "
        "yanlis-mudurluk) at least once.",
        "Bir müdürlüğün en az bir kez kendi konusu olmadığı için geri gönderdiği (değerlendirme "
        "sonucu “yanlış müdürlük”) taleplerin payı.",
        condition="f.wrong_directorate",
    ),
    "bilgi-istenen": Figure(
        "Bilgi istenen talep",
        Unit.COUNT,
        "Requests on which the directorate asked the citizen for information (bilgi-istendi).",
        "Müdürlüğün vatandaştan bilgi istediği (“bilgi istendi”) talepler.",
        condition="f.info_requested",
    ),
    "bilgi-yanitsiz-orani": Figure(
        "Yanıtsız kalan bilgi talebi oranı",
        Unit.PERCENT,
        "Of the requests with an information request, the share where the citizen's time to reply "
        "ran out (vatandas-yanit-vermedi); those still waiting are not counted as unanswered.",
        "Bilgi talebi yapılan taleplerden vatandaşın yanıt süresi dolanların (“vatandaş yanıt "
        "vermedi”) payı; yanıtı hâlâ beklenenler yanıtsız sayılmaz.",
        condition="f.info_unanswered",
    ),
    # ---------------------------------------------------------------- dif
    "dif-acik": Figure(
        "Açık DİF",
        Unit.COUNT,
        "DİFs not closed now, whenever opened; banded by working days since opening (0–10, 11–20, "
        "21–40, 41 and more). Only the directorate filter applies to DİF figures.",
        "Ne zaman açılmış olursa olsun şu an kapanmamış DİF'ler; açılıştan bu yana geçen iş gününe "
        "göre gruplanır (0–10, 11–20, 21–40, 41 ve üzeri). DİF göstergelerine yalnızca müdürlük "
        "filtresi uygulanır.",
        rows="difs",
        condition=OPEN_DIF,
    ),
    "dif-eylem-zamaninda": Figure(
        "Zamanında tamamlanan eylem",
        Unit.COUNT,
        "DİF actions due in the period (Istanbul date) completed at or before their due time; the "
        "list shows their DİFs.",
        "Son günü dönemde (İstanbul tarihiyle) olan ve son gün ve saatinde ya da daha önce tamamlanan"
        " DİF eylemleri; liste bu eylemlerin DİF'lerini gösterir.",
        rows="difs",
        condition=ACTION_IN_PERIOD.format("a.status = 'tamamlandi' AND a.completed_at <= a.due_at"),
    ),
    "dif-eylem-gec": Figure(
        "Geç tamamlanan eylem",
        Unit.COUNT,
        "DİF actions due in the period completed after their due time.",
        "Son günü dönemde olan ve son gün ve saatinden sonra tamamlanan DİF eylemleri.",
        rows="difs",
        condition=ACTION_IN_PERIOD.format("a.status = 'tamamlandi' AND a.completed_at > a.due_at"),
    ),
    "dif-eylem-geciken": Figure(
        "Süresi geçmiş açık eylem",
        Unit.COUNT,
        "DİF actions due in the period, not completed (open or sent back) and past their due time now.",
        "Son günü dönemde olan, tamamlanmamış (açık ya da geri gönderilmiş) ve son günü şu an geçmiş "
        "DİF eylemleri.",
        rows="difs",
        condition=ACTION_IN_PERIOD.format("a.status <> 'tamamlandi' AND a.due_at < :now"),
    ),
    "dif-eylem-bekleyen": Figure(
        "Süresi gelmemiş açık eylem",
        Unit.COUNT,
        "DİF actions due in the period, not completed and not yet due now.",
        "Son günü dönemde olan, tamamlanmamış ve son günü şu an henüz gelmemiş DİF eylemleri.",
        rows="difs",
        condition=ACTION_IN_PERIOD.format("a.status <> 'tamamlandi' AND a.due_at >= :now"),
    ),
    "dif-onay-bekleyen": Figure(
        "Onay bekleyen DİF",
        Unit.COUNT,
        "Open DİFs waiting now for the director's approval (mudur-onayinda) or the IMS office's "
        "verification (eys-dogrulamasinda).",
        "Şu an müdür onayını (“müdür onayında”) ya da EYS Şefliğinin doğrulamasını (“EYS "
        "doğrulamasında”) bekleyen açık DİF'ler.",
        rows="difs",
        condition=WAITING_DIF,
    ),
    "dif-onay-bekleme-medyan": Figure(
        "Bekleme süresi (medyan)",
        Unit.WORKING_DAYS,
        "Median working days the waiting DİFs have waited: since the latest approval decision or "
        "action completion on them, whichever is later, until now.",
        "Onay bekleyen DİF'lerin bekleme sürelerinin medyanı (iş günü): üzerlerindeki son onay "
        "kararından ya da son eylem tamamlanmasından (hangisi daha sonraysa) şu ana kadar.",
        rows="difs",
        condition=WAITING_DIF,
    ),
    "dif-onay-bekleme-en-uzun": Figure(
        "En uzun bekleme",
        Unit.WORKING_DAYS,
        "The longest such wait, in working days.",
        "Bu bekleme sürelerinin en uzunu (iş günü).",
        rows="difs",
        condition=WAITING_DIF,
    ),
    "dif-dogrulanan": Figure(
        "Etkinlik doğrulaması yapılan DİF",
        Unit.COUNT,
        "DİFs with at least one IMS-office verification decision (eys-dogrulama) in the period.",
        "Dönemde EYS Şefliğinin en az bir doğrulama kararı (EYS doğrulaması) verdiği DİF'ler.",
        rows="difs",
        condition=VERIFIED_IN_PERIOD.format(""),
    ),
    "dif-dogrulama-iade": Figure(
        "Doğrulamada geri gönderilen DİF",
        Unit.COUNT,
        "DİFs the IMS office sent back (eys-dogrulama geri-gonder) in the period: effectiveness-check "
        "returns.",
        "Dönemde EYS Şefliğinin EYS doğrulamasında geri gönderdiği DİF'ler: etkinlik doğrulamasından "
        "geri dönenler.",
        rows="difs",
        condition=VERIFIED_IN_PERIOD.format(" AND p.decision = 'geri-gonder'"),
    ),
    "dif-dogrulama-iade-orani": Figure(
        "Doğrulamada geri gönderme oranı",
        Unit.PERCENT,
        "Doğrulamada geri gönderilen ÷ etkinlik doğrulaması yapılan DİF: the share of the DİFs verified "
        "in the period that the IMS office sent back.",
        "Doğrulamada geri gönderilen ÷ etkinlik doğrulaması yapılan DİF: dönemde doğrulanan DİF'lerden "
        "EYS Şefliğinin geri gönderdiklerinin payı.",
        rows="difs",
        condition=VERIFIED_IN_PERIOD.format(" AND p.decision = 'geri-gonder'"),
    ),
    # ---------------------------------------------------------------- iso10002
    "itiraz-edilen": Figure(
        "İtiraz edilen talep",
        Unit.COUNT,
        "Requests with at least one objection to their answer (ISO 10002 7.8).",
        "Yanıtına en az bir itiraz yapılmış talepler (ISO 10002 7.8).",
        condition="f.objected",
    ),
    "itiraz-kabul": Figure(
        "İtirazı kabul edilen",
        Unit.COUNT,
        "Requests with an objection upheld (the request was reopened).",
        "İtirazı kabul edilen talepler (talep yeniden açıldı).",
        condition="f.objection_upheld",
    ),
    "itiraz-ret": Figure(
        "İtirazı reddedilen",
        Unit.COUNT,
        "Requests with an objection on which the closure was confirmed.",
        "İtirazı reddedilip kapanışı onaylanan talepler.",
        condition="f.objection_rejected",
    ),
    "itiraz-acik": Figure(
        "İtirazı değerlendirmede",
        Unit.COUNT,
        "Requests with an objection not decided yet.",
        "İtirazı henüz karara bağlanmamış talepler.",
        condition="f.objection_open",
    ),
    "memnuniyet-davet": Figure(
        "Memnuniyet daveti gönderilen",
        Unit.COUNT,
        "Requests whose citizen was sent the satisfaction invitation.",
        "Vatandaşına memnuniyet anketi daveti gönderilen talepler.",
        condition="f.invited",
    ),
    "memnuniyet-yanit-orani": Figure(
        "Memnuniyet yanıt oranı",
        Unit.PERCENT,
        "Of the invited requests, the share the citizen rated.",
        "Memnuniyet anketi daveti gönderilen taleplerden vatandaşın puan verdiklerinin payı.",
        condition="f.invited AND f.rating IS NOT NULL",
    ),
    "memnuniyet-ortalamasi": Figure(
        "Memnuniyet ortalaması",
        Unit.SCORE,
        "Average rating (1–5) over the rated requests.",
        "Puan verilen taleplerin ortalama puanı (1–5).",
        condition="f.rating IS NOT NULL",
    ),
    "dusuk-puan-orani": Figure(
        "Düşük puan oranı",
        Unit.PERCENT,
        "Of the rated requests, the share rated 1 or 2.",
        "Puan verilen taleplerden 1 ya da 2 puan alanların payı.",
        condition="f.rating <= 2",
    ),
    # ---------------------------------------------------------------- yonetim
    "uygunsuz-talep": Figure(
        "Uygunsuzluk kaydedilen talep",
        Unit.COUNT,
        "Requests with at least one nonconformity, by category (the top categories; ISO 9001 9.3).",
        "Kategoriye göre, en az bir uygunsuzluk kaydedilmiş talepler (en çok görülen kategoriler; ISO"
        " 9001 9.3).",
        condition="f.nonconforming",
    ),
    "dif-acilan": Figure(
        "Açılan DİF",
        Unit.COUNT,
        "DİFs opened in the period (Istanbul date).",
        "Dönemde (İstanbul tarihiyle) açılan DİF'ler.",
        rows="difs",
        condition=OPENED_IN_PERIOD,
    ),
    "dif-kapanan": Figure(
        "Kapanan DİF",
        Unit.COUNT,
        "DİFs closed in the period (Istanbul date).",
        "Dönemde (İstanbul tarihiyle) kapanan DİF'ler.",
        rows="difs",
        condition=CLOSED_IN_PERIOD,
    ),
    "dif-ilk-dogrulamada-etkin": Figure(
        "İlk doğrulamada etkin bulunan",
        Unit.COUNT,
        "DİFs closed in the period that the IMS office never sent back: effective at the first "
        "effectiveness check.",
        "Dönemde kapanan ve EYS Şefliğinin hiç geri göndermediği DİF'ler: ilk etkinlik doğrulamasında"
        " etkin bulunanlar.",
        rows="difs",
        condition=f"{CLOSED_IN_PERIOD} AND NOT {EYS_RETURNED_EVER}",
    ),
}


HOW = """## How they are computed

- In SQL over our own tables (never the engine's history), from summary tables that migration
  0018 adds and `services/indicator_refresh.py` keeps:
  - `working_calendar`: every day from 2015 with `working` and a running `wd_index` (filled from
    `services/working_days.py`, the service time's calendar): working days between two days are
    an index difference.
  - `indicator_requests`: one row per request (merged duplicates have none) with what the figures
    count: receipt day, directorate, category, channel, first and current due date, first answer,
    close, working days to answer and to close, and the flags (reopened, redirected, …).
  - `indicator_daily` / `indicator_monthly`: those rows summed per day (month) of receipt ×
    directorate × category × channel; `indicator_durations` / `indicator_durations_monthly`:
    working-day histograms per day (month) × directorate × channel, so medians and 90th
    percentiles are exact without reading every request. A period reads its whole months from
    the monthly tables and the days at its ends from the daily ones; a category's histograms
    come from its rows in `indicator_requests` (an index on category and day).
  - "Now" figures (open requests past due) read the open rows of `indicator_requests` at the
    report's `now`; DİF figures read the DİF tables themselves (a few thousand rows a year).
- Incremental refresh: triggers on `citizen_requests`, `request_events`, `nonconformities`,
  `objections` and `satisfaction_ratings` put the request's id into `indicator_dirty`. A refresh
  takes those ids in batches (50,000), recomputes their rows and adds the difference between each
  row before and after to the sums and histograms. A queue, not a watermark on
  `request_events.at`: that is the inserting transaction's clock, and a transaction committing
  after a later one would slip behind a watermark. One refresh at a time (an advisory lock).
- In production the workers process (`kalite-workers`) refreshes every
  `INDICATOR_REFRESH_SECONDS` (default 60): the page is exact as of the last refresh, at most
  that old. `python -m services.indicator_refresh --rebuild` recomputes everything from scratch.
- Speed: `make bench ARGS="--indicators"` (README, Benchmark) loads a year of a metropolitan
  municipality (1.5 million requests) and times the report.
"""


def markdown() -> str:
    """docs/indicators.md: the shared rules and every figure's definition, in English and Turkish."""
    doc = sys.modules[__name__].__doc__ or ""
    rules = doc.split("Shared rules (they hold for every request figure):", 1)[1].strip()
    lines = [
        "# Monitoring figures (issue #15)",
        "",
        "Generated from `services/indicator_figures.py` by `python -m services.indicator_figures "
        "--write`; a unit test fails when this file and the code differ.",
        "",
        "## Shared rules",
        "",
        rules,
        "",
        "### Ortak kurallar (Turkish, as the monitoring page shows them)",
        "",
        *(f"- {rule}" for rule in KURALLAR),
        "",
        HOW,
        "## Figures",
        "",
        "Each definition in English and in Turkish (Tanım: what the page, the XLSX and the PDF show).",
        "",
        "| Key | Title | Unit | Lists | Definition | Tanım |",
        "|---|---|---|---|---|---|",
    ]
    rows = {"requests": "requests", "difs": "DİFs"}
    for key, figure in FIGURES.items():
        unit = figure.unit.value or "-"
        cells = (f"`{key}`", figure.title, unit, rows[figure.rows], figure.definition, figure.tanim)
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="docs/indicators.md from the figures' definitions")
    parser.add_argument("--write", action="store_true", help="write the file (else: check it)")
    args = parser.parse_args(argv)
    if args.write:
        DOC.write_text(markdown(), encoding="utf-8")
        return 0
    return 0 if DOC.exists() and DOC.read_text(encoding="utf-8") == markdown() else 1


if __name__ == "__main__":
    raise SystemExit(main())
