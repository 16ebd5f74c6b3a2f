"""The monitoring page on the running stack: a request posted through the API shows in the figures
once the workers' refresh loop (every INDICATOR_REFRESH_SECONDS) has brought the summaries up to
date — in the list behind "Talep sayısı" for today, its channel and category, as the IMS office
sees it. (Every figure's value is a unit test: tests/unit/test_indicators.py.)"""

from __future__ import annotations

from datetime import datetime

import httpx

from services import staff_sessions
from services.access import Principal, Role
from services.bootstrap import Container
from services.web.staff import COOKIE
from services.working_days import ISTANBUL
from tests.conftest import API_URL
from tests.integration.citizen import submit, wait_status
from tests.integration.tasklist import poll


def test_a_new_request_reaches_the_monitoring_figures_through_the_workers_refresh(
    api: httpx.Client, app_container: Container
) -> None:
    tracking, _ = submit(api, channel="cimer", channelReference=f"CIMER-{datetime.now().timestamp()}")
    wait_status(tracking, "mudurlukte")
    office = Principal.staff("eys.uzman", {Role.IMS_OFFICE}, None)
    session_id = staff_sessions.create(app_container.uow, office, display_name="EYS Uzmanı", id_token="-")
    today = datetime.now(ISTANBUL).date().isoformat()
    query = {"baslangic": today, "bitis": today, "kanal": "cimer", "kategori": "YOL-CUKUR"}
    with httpx.Client(base_url=API_URL, cookies={COOKIE: session_id}, timeout=30) as browser:

        def listed() -> str | None:
            page = browser.get("/personel/izleme/liste", params={"gosterge": "talep-sayisi", **query})
            assert page.status_code == 200, page.text[:300]
            return page.text if tracking in page.text else None

        shown = poll(listed, what=f"{tracking} in the monitoring list", timeout=180, every=5)
        assert "Talep sayısı" in shown
        page = browser.get("/personel/izleme", params=query)
        assert page.status_code == 200
        assert "Talep hacmi" in page.text and "Server-Timing" not in page.text
        assert page.headers["server-timing"].startswith("figures;dur=")
