"""Rendering the citizen page: the Jinja2 templates, the page's own Content-Security-Policy, and
the Turkish words for our status codes and dates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from services.config import Settings
from services.labels import label
from services.working_days import ISTANBUL

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# Our status codes as the citizen reads them.
STATUS_LABELS = {
    "alindi": "Alındı",
    "yonlendirme-bekliyor": "İlgili birim belirleniyor",
    "yonlendirildi": "İlgili müdürlüğe iletildi",
    "yeniden-yonlendirilecek": "İlgili birim yeniden belirleniyor",
    "mudurlukte": "Müdürlükte inceleniyor",
    "bilgi-bekleniyor": "Sizden bilgi bekleniyor",
    "kapatma-kontrolunde": "Sonuçlandırılıyor",
    "kapatildi": "Yanıtlandı",
    "itiraz-degerlendirmede": "İtirazınız değerlendiriliyor",
    "yeniden-acildi": "Yeniden açıldı, müdürlükte inceleniyor",
    "uygunsuzluk": "İnceleniyor",
    "kuruma-yonlendirildi": "Yetkili kuruma iletildi",
    "birlestirildi": "Aynı konudaki başka bir talep ile birleştirildi",
}
# The answer as stored (citizen_requests.answer_citizen) → what the citizen reads.
ANSWERS = {
    "olumlu": "Başvurunuz olumlu sonuçlandı: istenen iş yapıldı.",
    "olumsuz": "Başvurunuz olumsuz sonuçlandı; gerekçesi size ayrıca bildirildi.",
}
MONTHS = (
    "Ocak",
    "Şubat",
    "Mart",
    "Nisan",
    "Mayıs",
    "Haziran",
    "Temmuz",
    "Ağustos",
    "Eylül",
    "Ekim",
    "Kasım",
    "Aralık",
)


def status_label(code: str) -> str:
    return STATUS_LABELS.get(code, "İşlemde")


def local_date(moment: datetime | None, *, with_time: bool = True) -> str:
    """ "5 Aralık 2026, 14:30" in Türkiye's time."""
    if moment is None:
        return "-"
    local = moment.astimezone(ISTANBUL)
    day = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    return f"{day}, {local:%H:%M}" if with_time else day


def iso(moment: datetime) -> str:
    return moment.astimezone(ISTANBUL).isoformat(timespec="minutes")


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.globals.update(
    status_label=status_label,
    label=label,
    answer_text=lambda answer: ANSWERS.get(answer, answer),
    local_date=local_date,
    iso=iso,
    pairs=lambda definition: [(v.key, v.name) for v in definition.values],
)


def tile_origin(settings: Settings) -> str | None:
    if not settings.map_tile_url:
        return None
    parts = urlsplit(settings.map_tile_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(settings: Settings) -> str:
    images = "'self' data:"
    origin = tile_origin(settings)
    if origin:
        images += f" {origin}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def render(
    settings: Settings,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    values = {
        "kvkk_url": settings.kvkk_notice_url,
        "map_enabled": tile_origin(settings) is not None,
        **context,
    }
    html = _environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Content-Security-Policy"] = content_security_policy(settings)
    return response
