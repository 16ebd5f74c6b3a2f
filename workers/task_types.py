"""Every job type a diagram may name, in one place (a test checks diagrams against it)."""

SYSTEM_CHECK_NOTIFY = "sistem-kontrol.bildirim-gonder"
SYSTEM_CHECK_COMPLETE = "sistem-kontrol.tamamla"

ROUTE_REQUEST = "birim-istek.yonlendir"
NOTIFY_DIRECTORATE = "birim-istek.mudurluge-bildir"
RECORD_STEP = "birim-istek.gecmise-yaz"
ASK_CITIZEN = "birim-istek.bilgi-iste"
ESCALATE_OVERDUE = "birim-istek.gecikme-bildir"
ANSWER_CITIZEN = "birim-istek.vatandasa-yanit"

NONCONFORMITY_RECORD_CALL = "uygun-olmayan-hizmet.cagriyi-kaydet"
