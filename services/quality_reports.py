"""The Corrective and Preventive Actions Report (clause 7): the DİF register as XLSX, one DİF as PDF.

Both carry Turkish text as is: openpyxl writes Unicode, and the PDF embeds a TrueType font with
the Turkish letters (DejaVu Sans by default, `REPORT_FONT_PATH`).
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from services.difs import STATUS_NAMES, DifDetail
from services.labels import label
from services.nonconformities import DECISIONS, SOURCES

LOCAL_TIME = ZoneInfo("Europe/Istanbul")
REGISTER_COLUMNS = (
    ("DİF no", 18),
    ("Müdürlük", 34),
    ("Durum", 20),
    ("Açılış", 17),
    ("Kapanış", 17),
    ("Bulgu no", 18),
    ("Uygunsuzluk no", 18),
    ("Tespit şekli", 22),
    ("Uygunsuzluk", 50),
    ("Karar", 26),
    ("Kök neden", 50),
    ("Eylem sayısı", 12),
    ("Tamamlanan eylem", 16),
    ("Geciken eylem", 14),
    ("Kanıt sayısı", 12),
    ("Saklama sonu", 14),
)


def _when(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return value.astimezone(LOCAL_TIME).strftime(fmt) if value else ""


def register_xlsx(details: list[DifDetail], *, now: datetime, filters: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "DİF kayıtları"
    sheet.append(["Düzeltici ve Önleyici Faaliyetler Raporu"])
    sheet.append([f"Oluşturma: {_when(now)} — Süzgeç: {filters or 'yok'}"])
    sheet.append([name for name, _ in REGISTER_COLUMNS])
    sheet["A1"].font = Font(bold=True, size=14)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for d in details:
        late = [a for a in d.actions if a.status != "tamamlandi" and a.due_at < now]
        sheet.append(
            [
                d.dif.number,
                d.directorate.name,
                STATUS_NAMES.get(d.dif.status, d.dif.status),
                _when(d.dif.opened_at),
                _when(d.dif.closed_at),
                d.finding.number,
                d.nonconformity.number,
                SOURCES.get(d.nonconformity.source, d.nonconformity.source),
                d.nonconformity.description,
                DECISIONS.get(d.nonconformity.decision or "", "—"),
                d.dif.root_cause or "",
                len(d.actions),
                sum(1 for a in d.actions if a.status == "tamamlandi"),
                len(late),
                len(d.evidence),
                _when(d.dif.retention_until, "%d.%m.%Y"),
            ]
        )
    for index, (_, width) in enumerate(REGISTER_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for row in sheet.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A4"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class ReportPdf(FPDF):
    """An A4 report with Turkish text (the TrueType font at font_path and its -Bold beside it), the
    title on every page and "Sayfa n/N" below: the DİF report and the management review."""

    def __init__(self, font_path: Path, title: str) -> None:
        super().__init__(format="A4")
        self.add_font("report", "", str(font_path))
        bold = font_path.with_name(f"{font_path.stem}-Bold{font_path.suffix}")
        self.add_font("report", "B", str(bold if bold.exists() else font_path))
        self._title = title
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(title)
        self.set_creator("Belediye Hizmet Takip")

    def header(self) -> None:
        self.set_font("report", "B", 9)
        self.cell(0, 6, self._title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("report", "", 8)
        self.cell(0, 6, f"Sayfa {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str, size: float = 12) -> None:
        self.ln(2)
        self.set_font("report", "B", size)
        self.multi_cell(0, size * 0.58, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("report", "", 10)

    def field(self, label: str, value: str) -> None:
        self.set_font("report", "B", 10)
        self.cell(45, 6, label)
        self.set_font("report", "", 10)
        self.multi_cell(0, 6, value or "—", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def grid(
        self, head: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[int, ...] | None = None
    ) -> None:
        """A table with a header row; without widths the first column is twice the others."""
        if widths is None:
            first = 2 if len(head) > 2 else 1
            widths = (first, *([1] * (len(head) - 1)))
        self.set_font("report", "", 8.5)
        with super().table(col_widths=widths, text_align="LEFT", line_height=4.5) as table:
            header = table.row()
            for text in head:
                header.cell(text)
            for values in rows:
                row = table.row()
                for text in values:
                    row.cell(text)
        self.set_font("report", "", 10)


def dif_pdf(d: DifDetail, *, font_path: Path, now: datetime) -> bytes:
    """One DİF with its finding, nonconformity, actions, evidence list, approvals and history."""
    pdf = ReportPdf(font_path, f"Düzeltici/İyileştirici Faaliyet — {d.dif.number}")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("report", "B", 15)
    pdf.multi_cell(0, 9, f"DİF {d.dif.number}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("report", "", 10)
    pdf.field("Müdürlük", d.directorate.name)
    pdf.field("Durum", STATUS_NAMES.get(d.dif.status, d.dif.status))
    pdf.field("Açılış", _when(d.dif.opened_at))
    pdf.field("Kapanış", _when(d.dif.closed_at))
    pdf.field("Saklama sonu", _when(d.dif.retention_until, "%d.%m.%Y"))
    pdf.field("Rapor tarihi", _when(now))

    pdf.heading("Uygunsuzluk ve bulgu")
    nc = d.nonconformity
    pdf.field("Uygunsuzluk no", nc.number)
    pdf.field("Tespit şekli", SOURCES.get(nc.source, nc.source))
    pdf.field("Tespit eden", nc.found_by)
    pdf.field("Tespit", nc.description)
    pdf.field("Karar", DECISIONS.get(nc.decision or "", "—"))
    pdf.field("Gerekçe", nc.justification or "")
    pdf.field("Bulgu no", d.finding.number)

    pdf.heading("Kök neden")
    pdf.multi_cell(0, 6, d.dif.root_cause or "—", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.heading("Eylemler")
    pdf.grid(
        ("No", "Eylem", "Sorumlu", "Son tarih", "Durum", "Tamamlanma"),
        [
            (
                str(a.position),
                a.description,
                a.responsible,
                _when(a.due_at),
                a.status,
                f"{_when(a.completed_at)} {a.completed_by or ''}".strip(),
            )
            for a in d.actions
        ],
        (8, 62, 25, 27, 22, 36),
    )
    position = {a.id: a.position for a in d.actions}
    pdf.heading("Kanıtlar")
    pdf.grid(
        ("Eylem", "Dosya", "Boyut", "SHA-256", "Yükleyen"),
        [
            (
                str(position.get(e.action_id, "")),
                e.file_name,
                f"{e.size} B",
                e.sha256[:16] + "…",
                e.uploaded_by,
            )
            for e in d.evidence
        ],
        (12, 62, 20, 48, 38),
    )
    pdf.heading("Onaylar ve doğrulama")
    pdf.grid(
        ("Zaman", "Adım", "Karar", "Kişi", "Açıklama"),
        [
            (_when(a.at), label("approval_step", a.step), label("decision", a.decision), a.actor, a.comment)
            for a in d.approvals
        ],
        (27, 28, 22, 28, 75),
    )
    pdf.heading("Yükseltmeler")
    pdf.grid(
        ("Zaman", "Tür", "Düzey", "Alıcı"),
        [
            (_when(e.at), label("escalation_kind", e.kind), label("level", e.level), e.recipient)
            for e in d.escalations
        ],
        (30, 40, 40, 70),
    )
    pdf.heading("Geçmiş")
    pdf.grid(
        ("Zaman", "Olay", "Kişi"),
        [(_when(e.at), label("dif_event", e.event), e.actor) for e in d.events],
        (35, 90, 55),
    )
    return bytes(pdf.output())
