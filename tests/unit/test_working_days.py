from datetime import datetime

from services.working_days import ISTANBUL, add_working_days, is_working_day


def test_weekends_are_skipped() -> None:
    friday = datetime(2026, 11, 20, 14, 30, tzinfo=ISTANBUL)
    assert add_working_days(friday, 1) == datetime(2026, 11, 23, 14, 30, tzinfo=ISTANBUL)


def test_turkish_public_holidays_are_skipped() -> None:
    # 29 Ekim Cumhuriyet Bayramı (Thursday) is not a working day.
    assert not is_working_day(datetime(2026, 10, 29).date())
    wednesday = datetime(2026, 10, 28, 9, 0, tzinfo=ISTANBUL)
    assert add_working_days(wednesday, 1) == datetime(2026, 10, 30, 9, 0, tzinfo=ISTANBUL)


def test_religious_holidays_move_with_the_calendar() -> None:
    # Kurban Bayramı 2026: 27-30 May (Wednesday-Saturday).
    tuesday = datetime(2026, 5, 26, 10, 0, tzinfo=ISTANBUL)
    assert add_working_days(tuesday, 1) == datetime(2026, 6, 1, 10, 0, tzinfo=ISTANBUL)


def test_zero_days_is_the_same_moment() -> None:
    now = datetime(2026, 11, 22, 23, 0, tzinfo=ISTANBUL)
    assert add_working_days(now, 0) == now
