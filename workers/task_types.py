"""Every external-task topic a diagram may name, in one place (a test checks diagrams against it)."""

SYSTEM_CHECK_NOTIFY = "sistem-kontrol.bildirim-gonder"
SYSTEM_CHECK_COMPLETE = "sistem-kontrol.tamamla"

ROUTE_REQUEST = "birim-istek.yonlendir"
NOTIFY_DIRECTORATE = "birim-istek.mudurluge-bildir"
RECORD_STEP = "birim-istek.gecmise-yaz"
ASK_CITIZEN = "birim-istek.bilgi-iste"
ESCALATE_OVERDUE = "birim-istek.gecikme-bildir"
ANSWER_CITIZEN = "birim-istek.vatandasa-yanit"
INFORM_CITIZEN = "birim-istek.vatandasi-bilgilendir"
NOTIFY_URGENT = "birim-istek.acil-bildir"
APPLY_PRIORITY = "birim-istek.oncelik-uygula"
INVITE_RATING = "birim-istek.memnuniyet-daveti"
DECIDE_OBJECTION = "birim-istek.itiraz-karari"

LOW_RATING_NOTIFY = "memnuniyet.dusuk-puan-bildir"

NONCONFORMITY_RECORD = "uygun-olmayan-hizmet.kaydet"
NONCONFORMITY_DECISION = "uygun-olmayan-hizmet.karari-kaydet"
NONCONFORMITY_REOPEN = "uygun-olmayan-hizmet.talebi-yeniden-ac"
NONCONFORMITY_REDIRECT = "uygun-olmayan-hizmet.kuruma-yonlendir"
NONCONFORMITY_OPEN_FINDING = "uygun-olmayan-hizmet.bulgu-ac"

DIF_START = "dif.baslat"
DIF_RECORD_PLAN = "dif.plani-kaydet"
DIF_CLOSE_ACTION = "dif.eylemi-kapat"
DIF_ACTION_OVERDUE = "dif.eylem-gecikmesi"
DIF_RECORD_APPROVAL = "dif.onay-kaydet"
DIF_ESCALATE_APPROVAL = "dif.onay-yukselt"
DIF_ARCHIVE = "dif.arsivle"

PERSONAL_DATA_ANONYMISE = "kisisel-veri-anonimlestirme.anonimlestir"
