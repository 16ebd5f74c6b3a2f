"""The retention period as the process owner writes it, and the citizen's data found in free text."""

import uuid
from datetime import timedelta

import pytest

from services.anonymisation import _Scrubber, parse_period
from services.models import CitizenContact
from workers.personal_data import RetentionHeaders


@pytest.mark.parametrize(
    ("text", "days"),
    [("P2Y", 730), ("P18M", 540), ("P400D", 400), ("P1Y6M", 545), ("P2W", 14), (" P2Y ", 730)],
)
def test_iso_8601_periods_are_read_with_365_day_years_and_30_day_months(text: str, days: int) -> None:
    assert parse_period(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["730", "2 years", "P", "PT", "P-1D", "P0D", "", "2Y", "P2Y ve fazlası"])
def test_anything_else_is_refused_rather_than_read_as_seconds(text: str) -> None:
    with pytest.raises(ValueError, match="retention period"):
        parse_period(text)


def test_the_task_headers_as_modeler_writes_them() -> None:
    headers = RetentionHeaders.model_validate({"retentionPeriod": "P2Y", "batchSize": "200"})
    assert (headers.retention_period, headers.batch_size) == (timedelta(days=730), 200)
    with pytest.raises(ValueError):
        RetentionHeaders.model_validate({"retentionPeriod": "730", "batchSize": "200"})
    with pytest.raises(ValueError):
        RetentionHeaders.model_validate({"retentionPeriod": "P2Y", "batchSize": "0"})


def test_the_citizens_name_address_and_number_are_replaced_in_any_spelling() -> None:
    request_id = uuid.uuid4()
    contact = CitizenContact(
        request_id=request_id,
        full_name="Ali  Işık",
        phone="+903242345678",
        email="ali@ornek.local",
        address="Gazi Mah. 5. Sk. No:3",
        preferred_channel="eposta",
    )
    scrub = _Scrubber.of(contact, [], request_id)
    text = (
        "ALİ IŞIK ile görüşüldü; ali ışık sabit hattan (0324) 234 56 78, +90 324 234-5678 ya da "
        "03242345678 numarasından arandı; adres gazi mah.   5. sk. No:3; e-posta ALI@ornek.local; "
        "komşusu 0533 111 22 33, veli@x.local; Alibeyköy, Alimoğlu Sk. ve 123242345678 aynen kalır."
    )
    assert scrub.text(text) == (
        "<ad soyad> ile görüşüldü; <ad soyad> sabit hattan <telefon>, <telefon> ya da "
        "<telefon> numarasından arandı; adres <adres>; e-posta <e-posta>; "
        "komşusu <telefon>, <e-posta>; Alibeyköy, Alimoğlu Sk. ve 123242345678 aynen kalır."
    )
    assert scrub.json({"a": [text, 3, None], "b": {"c": "Ali Işık"}})["b"] == {"c": "<ad soyad>"}
    assert scrub.addresses == {"ali@ornek.local", "+903242345678"}
    assert scrub.keys == (str(request_id),)
