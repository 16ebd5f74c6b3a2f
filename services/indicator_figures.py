"""Every monitoring figure's definition, once: the code reads the conditions, docs/indicators.md is
generated from the definitions (`python -m services.indicator_figures --write`; a unit test checks).

Shared rules (they hold for every request figure):
- The population is the requests *received* in the period: their Istanbul date of receipt lies in
  the filter's start..end, both inclusive; the directorate, channel and category filters narrow it.
  A request counts for its current directorate and category (after any re-routing).
- Merged duplicates are left out of every figure: their answer is their primary's.
- Working days come from the service time's calendar (services/working_days.py: weekends and Turkish
  public holidays). Between two instants they are the working days d with date(a) < d ≤ date(b),
  dates taken in Europe/Istanbul: received Friday, answered Monday is 1; the same day is 0.
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
    # What the list behind the number holds.
    rows: Literal["requests", "difs"] = "requests"
    # SQL condition on indicator_requests `f` (request figures) or `d` = difs (DİF figures) that
    # selects the rows the number counts (for a rate: its numerator; for a median: its population).
    condition: str = "true"


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
    ),
    # ---------------------------------------------------------------- hizmet-suresi
    "hizmet-suresi-kapsami": Figure(
        "Süresi değerlendirilen",
        Unit.COUNT,
        "Requests with a due date that were answered, plus those still unanswered and past their "
        "due date now; requests never routed (no due date) are not assessed.",
        condition=IN_SERVICE_TIME_SCOPE,
    ),
    "sure-icinde-yanitlanan": Figure(
        "Süresinde yanıtlanan",
        Unit.COUNT,
        "Requests whose first answer came at or before the due date of their first service period "
        "(a reopened request: the due date its last routing before that answer set).",
        condition="f.on_time",
    ),
    "sure-icinde-yanit-orani": Figure(
        "Süresinde yanıt oranı",
        Unit.PERCENT,
        "Süresinde yanıtlanan ÷ süresi değerlendirilen: the share answered within the service time, "
        "unanswered overdue requests counting as late.",
        condition="f.on_time",
    ),
    "geciken-acik": Figure(
        "Süresi geçmiş açık talep",
        Unit.COUNT,
        "Open requests (not closed, including reopened ones) whose current due date has passed now; "
        "banded by working days past the due date (0–1, 2–5, 6–10, 11 and more).",
        condition=OVERDUE,
    ),
    # ---------------------------------------------------------------- sureler
    "yanitlanan": Figure(
        "Yanıtlanan talep",
        Unit.COUNT,
        "Requests with a first answer (yanitlandi or kuruma-yonlendirildi).",
        condition=ANSWERED,
    ),
    "yanit-suresi-medyan": Figure(
        "Yanıt süresi (medyan)",
        Unit.WORKING_DAYS,
        "Median working days from receipt to the first answer, over the answered requests.",
        condition=ANSWERED,
    ),
    "yanit-suresi-p90": Figure(
        "Yanıt süresi (%90)",
        Unit.WORKING_DAYS,
        "90th percentile (nearest rank) of the working days from receipt to the first answer.",
        condition=ANSWERED,
    ),
    "kapanan": Figure(
        "Kapanan talep",
        Unit.COUNT,
        "Requests closed now (closed_at set: answered and not reopened since, or redirected).",
        condition=CLOSED,
    ),
    "kapanis-suresi-medyan": Figure(
        "Kapanış süresi (medyan)",
        Unit.WORKING_DAYS,
        "Median working days from receipt to the final close, over the closed requests.",
        condition=CLOSED,
    ),
    "kapanis-suresi-p90": Figure(
        "Kapanış süresi (%90)",
        Unit.WORKING_DAYS,
        "90th percentile (nearest rank) of the working days from receipt to the final close.",
        condition=CLOSED,
    ),
    # ---------------------------------------------------------------- oranlar
    "uygunsuzluk-orani": Figure(
        "Uygunsuzluk oranı",
        Unit.PERCENT,
        "Share of the requests with at least one nonconformity recorded on them.",
        condition="f.nonconforming",
    ),
    "yeniden-acilma-orani": Figure(
        "Yeniden açılma oranı",
        Unit.PERCENT,
        "Share of the requests reopened at least once (after a nonconformity or an upheld objection).",
        condition="f.reopened",
    ),
    "kuruma-yonlendirme-orani": Figure(
        "Başka kuruma yönlendirme oranı",
        Unit.PERCENT,
        "Share of the requests redirected to another institution (kuruma-yonlendirildi).",
        condition="f.redirected",
    ),
    "yanlis-mudurluk-orani": Figure(
        "Yanlış müdürlüğe yönlendirme oranı",
        Unit.PERCENT,
        "Share of the requests a directorate sent back as not its own (assessment outcome "
        "yanlis-mudurluk) at least once.",
        condition="f.wrong_directorate",
    ),
    "bilgi-istenen": Figure(
        "Bilgi istenen talep",
        Unit.COUNT,
        "Requests on which the directorate asked the citizen for information (bilgi-istendi).",
        condition="f.info_requested",
    ),
    "bilgi-yanitsiz-orani": Figure(
        "Yanıtsız kalan bilgi talebi oranı",
        Unit.PERCENT,
        "Of the requests with an information request, the share where the citizen's time to reply "
        "ran out (vatandas-yanit-vermedi); those still waiting are not counted as unanswered.",
        condition="f.info_unanswered",
    ),
    # ---------------------------------------------------------------- dif
    "dif-acik": Figure(
        "Açık DİF",
        Unit.COUNT,
        "DİFs not closed now, whenever opened; banded by working days since opening (0–10, 11–20, "
        "21–40, 41 and more). Only the directorate filter applies to DİF figures.",
        rows="difs",
        condition=OPEN_DIF,
    ),
    "dif-eylem-zamaninda": Figure(
        "Zamanında tamamlanan eylem",
        Unit.COUNT,
        "DİF actions due in the period (Istanbul date) completed at or before their due time; the "
        "list shows their DİFs.",
        rows="difs",
        condition=ACTION_IN_PERIOD.format("a.status = 'tamamlandi' AND a.completed_at <= a.due_at"),
    ),
    "dif-eylem-gec": Figure(
        "Geç tamamlanan eylem",
        Unit.COUNT,
        "DİF actions due in the period completed after their due time.",
        rows="difs",
        condition=ACTION_IN_PERIOD.format("a.status = 'tamamlandi' AND a.completed_at > a.due_at"),
    ),
    "dif-eylem-geciken": Figure(
        "Süresi geçmiş açık eylem",
        Unit.COUNT,
        "DİF actions due in the period, not completed (open or sent back) and past their due time now.",
        rows="difs",
        condition=ACTION_IN_PERIOD.format("a.status <> 'tamamlandi' AND a.due_at < :now"),
    ),
    "dif-eylem-bekleyen": Figure(
        "Süresi gelmemiş açık eylem",
        Unit.COUNT,
        "DİF actions due in the period, not completed and not yet due now.",
        rows="difs",
        condition=ACTION_IN_PERIOD.format("a.status <> 'tamamlandi' AND a.due_at >= :now"),
    ),
    "dif-onay-bekleyen": Figure(
        "Onay bekleyen DİF",
        Unit.COUNT,
        "Open DİFs waiting now for the director's approval (mudur-onayinda) or the IMS office's "
        "verification (eys-dogrulamasinda).",
        rows="difs",
        condition=WAITING_DIF,
    ),
    "dif-onay-bekleme-medyan": Figure(
        "Bekleme süresi (medyan)",
        Unit.WORKING_DAYS,
        "Median working days the waiting DİFs have waited: since the latest approval decision or "
        "action completion on them, whichever is later, until now.",
        rows="difs",
        condition=WAITING_DIF,
    ),
    "dif-onay-bekleme-en-uzun": Figure(
        "En uzun bekleme",
        Unit.WORKING_DAYS,
        "The longest such wait, in working days.",
        rows="difs",
        condition=WAITING_DIF,
    ),
    "dif-dogrulanan": Figure(
        "Etkinlik doğrulaması yapılan DİF",
        Unit.COUNT,
        "DİFs with at least one IMS-office verification decision (eys-dogrulama) in the period.",
        rows="difs",
        condition=VERIFIED_IN_PERIOD.format(""),
    ),
    "dif-dogrulama-iade": Figure(
        "Doğrulamada geri gönderilen DİF",
        Unit.COUNT,
        "DİFs the IMS office sent back (eys-dogrulama geri-gonder) in the period: effectiveness-check "
        "returns.",
        rows="difs",
        condition=VERIFIED_IN_PERIOD.format(" AND p.decision = 'geri-gonder'"),
    ),
    "dif-dogrulama-iade-orani": Figure(
        "Doğrulamada geri gönderme oranı",
        Unit.PERCENT,
        "Doğrulamada geri gönderilen ÷ etkinlik doğrulaması yapılan DİF.",
        rows="difs",
        condition=VERIFIED_IN_PERIOD.format(" AND p.decision = 'geri-gonder'"),
    ),
    # ---------------------------------------------------------------- iso10002
    "itiraz-edilen": Figure(
        "İtiraz edilen talep",
        Unit.COUNT,
        "Requests with at least one objection to their answer (ISO 10002 7.8).",
        condition="f.objected",
    ),
    "itiraz-kabul": Figure(
        "İtirazı kabul edilen",
        Unit.COUNT,
        "Requests with an objection upheld (the request was reopened).",
        condition="f.objection_upheld",
    ),
    "itiraz-ret": Figure(
        "İtirazı reddedilen",
        Unit.COUNT,
        "Requests with an objection on which the closure was confirmed.",
        condition="f.objection_rejected",
    ),
    "itiraz-acik": Figure(
        "İtirazı değerlendirmede",
        Unit.COUNT,
        "Requests with an objection not decided yet.",
        condition="f.objection_open",
    ),
    "memnuniyet-davet": Figure(
        "Memnuniyet daveti gönderilen",
        Unit.COUNT,
        "Requests whose citizen was sent the satisfaction invitation.",
        condition="f.invited",
    ),
    "memnuniyet-yanit-orani": Figure(
        "Memnuniyet yanıt oranı",
        Unit.PERCENT,
        "Of the invited requests, the share the citizen rated.",
        condition="f.invited AND f.rating IS NOT NULL",
    ),
    "memnuniyet-ortalamasi": Figure(
        "Memnuniyet ortalaması",
        Unit.SCORE,
        "Average rating (1–5) over the rated requests.",
        condition="f.rating IS NOT NULL",
    ),
    "dusuk-puan-orani": Figure(
        "Düşük puan oranı",
        Unit.PERCENT,
        "Of the rated requests, the share rated 1 or 2.",
        condition="f.rating <= 2",
    ),
    # ---------------------------------------------------------------- yonetim
    "uygunsuz-talep": Figure(
        "Uygunsuzluk kaydedilen talep",
        Unit.COUNT,
        "Requests with at least one nonconformity, by category (the top categories; ISO 9001 9.3).",
        condition="f.nonconforming",
    ),
    "dif-acilan": Figure(
        "Açılan DİF",
        Unit.COUNT,
        "DİFs opened in the period (Istanbul date).",
        rows="difs",
        condition=OPENED_IN_PERIOD,
    ),
    "dif-kapanan": Figure(
        "Kapanan DİF",
        Unit.COUNT,
        "DİFs closed in the period (Istanbul date).",
        rows="difs",
        condition=CLOSED_IN_PERIOD,
    ),
    "dif-ilk-dogrulamada-etkin": Figure(
        "İlk doğrulamada etkin bulunan",
        Unit.COUNT,
        "DİFs closed in the period that the IMS office never sent back: effective at the first "
        "effectiveness check.",
        rows="difs",
        condition=f"{CLOSED_IN_PERIOD} AND NOT {EYS_RETURNED_EVER}",
    ),
}


def markdown() -> str:
    """docs/indicators.md: the shared rules and every figure's definition."""
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
        "## Figures",
        "",
        "| Key | Title | Unit | Lists | Definition |",
        "|---|---|---|---|---|",
    ]
    rows = {"requests": "requests", "difs": "DİFs"}
    for key, figure in FIGURES.items():
        unit = figure.unit.value or "-"
        lines.append(f"| `{key}` | {figure.title} | {unit} | {rows[figure.rows]} | {figure.definition} |")
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
