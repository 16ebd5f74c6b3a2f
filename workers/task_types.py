"""Every job type a diagram may name, in one place (a test checks diagrams against it)."""

SYSTEM_CHECK_NOTIFY = "sistem-kontrol.bildirim-gonder"
SYSTEM_CHECK_COMPLETE = "sistem-kontrol.tamamla"
