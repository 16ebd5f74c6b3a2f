"""Open311 on the running stack: a request posted as an Open311 client does is routed by the
engine like any other, and the public read then names the directorate and the deadline."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

import httpx
from sqlalchemy import create_engine, text

from services.config import get_settings
from services.open311 import iso
from tests.conftest import API_URL
from tests.integration.citizen import TURKISH_DESCRIPTION, wait_status

V2 = f"{API_URL}/open311/v2"


def _directorate_name(code: str) -> str:
    database = create_engine(get_settings().database_url)
    try:
        with database.connect() as connection:
            name: str = connection.execute(
                text("SELECT name FROM directorates WHERE code = :c"), {"c": code}
            ).scalar_one()
            return name
    finally:
        database.dispose()


def test_an_open311_request_is_routed_and_shows_its_directorate_and_deadline(
    channel_keys: dict[str, str],
) -> None:
    form = {
        "api_key": channel_keys["open311"],
        "service_code": "YOL-CUKUR",
        "lat": "36.7841",
        "long": "34.6015",
        "first_name": "Ayşe",
        "last_name": "Yıldırım",
        "email": f"ayse.{uuid.uuid4().hex[:8]}@vatandas.local",
        "description": TURKISH_DESCRIPTION,
    }
    posted = httpx.post(f"{V2}/requests.json", data=form, timeout=10)
    assert posted.status_code == 201, posted.text
    public_id = posted.json()[0]["service_request_id"]
    found = re.search(r"BI(?:-[A-Z2-7]{4}){4}", posted.json()[0]["service_notice"])
    assert found, posted.text

    row = wait_status(found.group(0), "mudurlukte")  # the engine routed it and opened the task

    item = httpx.get(f"{V2}/requests/{public_id}.json", timeout=10).json()[0]
    assert item["status"] == "open"
    assert item["agency_responsible"] == _directorate_name(row["directorate_code"])
    assert item["expected_datetime"] == iso(row["due_at"])
    assert item["expected_datetime"].endswith("+03:00")
    root = ET.fromstring(httpx.get(f"{V2}/requests/{public_id}.xml", timeout=10).content)
    assert root.findtext("request/agency_responsible") == item["agency_responsible"]
    assert root.findtext("request/expected_datetime") == item["expected_datetime"]
