"""The Turkish words staff and citizens read for our stored codes: one place for every page and
report.

A code without a word here (an event a process owner added to a diagram, say) is shown as it is
stored: readable, if without its diacritics, and never hidden.
"""

from __future__ import annotations

from services.indicators import CHANNELS

REQUEST_TYPES = {"istek": "İstek", "sikayet": "Şikâyet", "oneri": "Öneri"}
PRIORITIES = {"normal": "Normal", "yuksek": "Yüksek", "acil": "Acil"}
ANSWER_CHANNELS = {"sms": "SMS", "eposta": "E-posta"}

# A request's history (request_events.event), as staff read it.
REQUEST_EVENTS = {
    "alindi": "Talep alındı",
    "kategori-bulunamadi": "Kategori bulunamadı",
    "yonlendirildi": "Müdürlüğe yönlendirildi",
    "mudurluge-bildirildi": "Müdürlüğe bildirildi",
    "mudure-acil-bildirildi": "Acil talep müdüre bildirildi",
    "oncelik-degisti": "Öncelik değişti",
    "vatandas-bilgilendirildi": "Vatandaş bilgilendirildi",
    "mudurluk-degerlendirmesi": "Müdürlük değerlendirdi",
    "bilgi-istendi": "Vatandaştan bilgi istendi",
    "vatandas-yanitladi": "Vatandaş bilgi verdi",
    "vatandas-yanit-vermedi": "Vatandaş süresinde bilgi vermedi",
    "gecikme-bildirildi": "Gecikme bildirildi",
    "kapatma-karari": "Kapatma kontrolü kararı",
    "yanitlandi": "Vatandaşa yanıt verildi",
    "kuruma-yonlendirildi": "Yetkili kuruma yönlendirildi",
    "uygunsuzluk-kaydedildi": "Uygunsuzluk kaydedildi",
    "yeniden-acildi": "Yeniden açıldı",
    "birlestirildi": "Başka bir talep ile birleştirildi",
    "mukerrer-eklendi": "Mükerrer talep eklendi",
    "itiraz-edildi": "Vatandaş itiraz etti",
    "kapanis-onaylandi": "Kapanış onaylandı",
    "memnuniyet-daveti-gonderildi": "Memnuniyet anketi gönderildi",
    "memnuniyet-degerlendirildi": "Memnuniyet değerlendirildi",
    "kisisel-veriler-anonimlestirildi": "Kişisel veriler anonimleştirildi",
}

# A DİF's history (quality_events.event on the DİF).
DIF_EVENTS = {
    "acildi": "DİF açıldı",
    "sureci-basladi": "Süreç başladı",
    "planlandi": "Eylemler planlandı",
    "eylem-hatirlatma": "Eylem hatırlatıldı",
    "hatirlatildi": "Hatırlatıldı",
    "yukseltildi": "Üst makama iletildi",
    "eylem-tamamlandi": "Eylem tamamlandı",
    "kanit-yuklendi": "Kanıt yüklendi",
    "kanit-silindi": "Kanıt geri alındı",
    "kapatildi": "DİF kapatıldı",
    "mudur-onayi:onayla": "Müdür onayladı",
    "mudur-onayi:geri-gonder": "Müdür geri gönderdi",
    "eys-dogrulama:kapat": "EYS ofisi doğruladı, kapatılıyor",
    "eys-dogrulama:geri-gonder": "EYS ofisi geri gönderdi",
}

# A DİF's approvals and escalations (dif_approvals, escalations). An escalation level that is not
# here is an office's code from the catalogue (the page shows the office's name).
APPROVAL_STEPS = {"mudur-onayi": "Müdür onayı", "eys-dogrulama": "EYS doğrulaması"}
DECISIONS = {"onayla": "Onaylandı", "geri-gonder": "Geri gönderildi", "kapat": "Kapatılsın"}
ESCALATION_KINDS = {
    "eylem-hatirlatma": "Eylem hatırlatması",
    "eylem-gecikmesi": "Eylem gecikmesi",
    "onay": "Bekleyen onay",
}
LEVELS = {"sorumlu": "Eylem sorumlusu", "mudur": "Müdür", "daire-baskani": "Daire başkanı"}

KINDS = {
    "request_type": REQUEST_TYPES,
    "channel": CHANNELS,
    "priority": PRIORITIES,
    "answer_channel": ANSWER_CHANNELS,
    "request_event": REQUEST_EVENTS,
    "dif_event": DIF_EVENTS,
    "approval_step": APPROVAL_STEPS,
    "decision": DECISIONS,
    "escalation_kind": ESCALATION_KINDS,
    "level": LEVELS,
}


def label(kind: str, code: str | None) -> str:
    """The Turkish word for `code` of `kind` (a KINDS key); the code itself when none, "-" for none."""
    if not code:
        return "-"
    return KINDS[kind].get(code, code)
