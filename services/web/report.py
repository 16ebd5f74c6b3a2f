"""The report form: its fields → the JSON intake's models (services/api/requests.py IntakeIn, the
one set of rules), their errors → a Turkish message per form field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services import evidence, request_attributes
from services.api.requests import IntakeIn

ANSWER_CHANNELS = {"eposta": "E-posta", "sms": "SMS (cep telefonu)"}
# Form field → its label, in the order the form shows them (the error summary follows it).
FIELDS = {
    "tur": "Başvuru türü",
    "aciklama": "Açıklama",
    "adres": "Adres",
    "ilce": "İlçe",
    "enlem": "Enlem",
    "boylam": "Boylam",
    "fotograf": "Fotoğraf",
    "ad_soyad": "Ad soyad",
    "telefon": "Cep telefonu",
    "eposta": "E-posta",
    "yanit_kanali": "Yanıt kanalı",
    "kvkk": "Aydınlatma metni onayı",
    "dogrulama": "Doğrulama sorusu",
}
# IntakeIn's location of a value → the form field that holds it.
LOCATIONS = {
    ("type",): "tur",
    ("description",): "aciklama",
    ("location", "address"): "adres",
    ("location", "district"): "ilce",
    ("location", "latitude"): "enlem",
    ("location", "longitude"): "boylam",
    ("citizen", "fullName"): "ad_soyad",
    ("citizen", "phone"): "telefon",
    ("citizen", "email"): "eposta",
    ("preferredAnswerChannel",): "yanit_kanali",
}


@dataclass
class ReportForm:
    """What the citizen typed (kept when the form comes back with errors) and the errors by field."""

    values: dict[str, str] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


def read(form: Any, definitions: list[request_attributes.Definition]) -> ReportForm:
    text_fields = ("tur", "aciklama", "adres", "ilce", "enlem", "boylam", "ad_soyad", "telefon", "eposta")
    values = {name: str(form.get(name) or "").strip() for name in text_fields}
    values["yanit_kanali"] = str(form.get("yanit_kanali") or "")
    values["durum_bildirimi"] = "evet" if form.get("durum_bildirimi") == "evet" else ""
    values["kvkk"] = "evet" if form.get("kvkk") == "evet" else ""
    answers = {d.code: [str(v) for v in form.getlist(f"soru-{d.code}")] for d in definitions}
    return ReportForm(values=values, answers=answers)


def intake(report: ReportForm, *, category: str, reference: str) -> IntakeIn | None:
    """The intake the JSON API would take, or None with the errors recorded on `report`."""
    v = report.values
    body = {
        "channel": "web",
        "channelReference": reference,
        "type": v["tur"] or None,
        "categoryCode": category,
        "description": v["aciklama"],
        "location": {
            "address": v["adres"] or None,
            "district": v["ilce"] or None,
            "latitude": _number(v["enlem"]),
            "longitude": _number(v["boylam"]),
        },
        "citizen": {"fullName": v["ad_soyad"], "phone": v["telefon"] or None, "email": v["eposta"] or None},
        "preferredAnswerChannel": v["yanit_kanali"] or None,
        "statusUpdates": v["durum_bildirimi"] == "evet",
        "attributes": {code: given for code, given in report.answers.items() if any(given)},
    }
    try:
        return IntakeIn.model_validate(body)
    except ValidationError as invalid:
        for problem in invalid.errors():
            name, message = _translate(problem, v)
            report.error(name, message)
        return None


def check_answers(report: ReportForm, definitions: list[request_attributes.Definition]) -> None:
    """Each question on its own through the shared check, so that every wrong answer gets its
    message (the intake then checks them all again with catalogue.check_answers)."""
    for d in definitions:
        given = report.answers.get(d.code, [])
        try:
            request_attributes.check_answers([d], {d.code: given} if any(given) else {})
        except request_attributes.AnswerInvalid as wrong:
            report.error(f"soru-{d.code}", wrong.message[:1].upper() + wrong.message[1:] + ".")


def photo_message(rejected: evidence.EvidenceRejected, max_bytes: int) -> str:
    """evidence.check's English messages, for the citizen."""
    text = str(rejected)
    if rejected.too_large:
        return f"Fotoğraf en çok {size_text(max_bytes)} olabilir; daha küçük bir fotoğraf seçin."
    if "content is not" in text:
        return "Dosyanın içeriği seçilen türde bir fotoğraf değil; JPEG ya da PNG bir fotoğraf seçin."
    if rejected.unsupported:
        return "Yalnızca JPEG ya da PNG fotoğraf yükleyebilirsiniz."
    if "empty" in text:
        return "Seçilen dosya boş."
    return "Dosyanın adı geçersiz; adını değiştirip yeniden seçin."


def size_text(size: int) -> str:
    """5 MB, 1,5 MB, 400 KB, 350 bayt: as Turkish readers write sizes."""
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f}".replace(".0", "").replace(".", ",") + " MB"
    if size >= 1024:
        return f"{size // 1024} KB"
    return f"{size} bayt"


def _number(text: str) -> str | None:
    # Turkish writes decimals with a comma (36,78).
    return text.replace(",", ".") if text else None


def _translate(problem: Any, values: dict[str, str]) -> tuple[str, str]:
    loc = tuple(str(part) for part in problem["loc"])
    kind, message = problem["type"], str(problem.get("msg", ""))
    ctx = problem.get("ctx") or {}
    if loc == ():  # IntakeIn's check: the contact the chosen answer channel needs
        if "citizen.email" in message:
            return "eposta", "Yanıtı e-postayla almak için e-posta adresinizi yazın."
        return "telefon", "Yanıtı SMS ile almak için cep telefonu numaranızı yazın."
    if loc == ("location",):
        if "together" in message:
            name = "boylam" if values["enlem"] else "enlem"
            return name, "Enlem ve boylamı birlikte girin (ya da ikisini de boş bırakın)."
        return "adres", "Adresi yazın ya da yeri haritada işaretleyin."
    name = LOCATIONS.get(loc, "aciklama")
    label = FIELDS[name]
    if name == "tur":
        return name, "Başvuru türünü seçin: istek, şikâyet ya da öneri."
    if name == "yanit_kanali":
        return name, "Yanıtı nasıl almak istediğinizi seçin: e-posta ya da SMS."
    if name == "telefon":
        return name, "Geçerli bir cep telefonu numarası yazın, ör. 0532 123 45 67."
    if name == "eposta":
        return name, "Geçerli bir e-posta adresi yazın, ör. ad.soyad@ornek.com.tr."
    if name in ("enlem", "boylam"):
        if kind == "float_parsing":
            return name, f"{label} bir sayı olmalı, ör. 36,7841."
        span = "35 ile 43" if name == "enlem" else "25 ile 45"
        return name, f"{label} {span} arasında olmalı (Türkiye sınırları içinde bir yer)."
    if kind == "string_too_short" or kind == "missing":
        if name == "aciklama":
            return (
                name,
                f"Açıklama en az {ctx.get('min_length', 10)} karakter olmalı; sorunu birkaç cümleyle "
                "anlatın.",
            )
        if name == "ad_soyad":
            return name, "Adınızı ve soyadınızı yazın."
        return name, f"{label} en az {ctx.get('min_length', 2)} karakter olmalı."
    if kind == "string_too_long":
        return name, f"{label} en çok {ctx.get('max_length')} karakter olabilir."
    return name, f"{label} geçerli değil."
