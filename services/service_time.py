"""Priorities and service times (ISO 10002 7.5): each category says how long each priority may take.

Urgent requests are counted in clock hours (a danger does not wait for Monday); high and normal
ones in working days, skipping weekends and Turkish public holidays.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from services.models import Category
from services.working_days import add_working_days

Priority = Literal["acil", "yuksek", "normal"]
PRIORITIES: tuple[Priority, ...] = ("acil", "yuksek", "normal")
LABELS: dict[str, str] = {"acil": "Acil", "yuksek": "Yüksek", "normal": "Normal"}
# Tasklist sorts and filters on these (the engine's default task priority is 50).
TASK_PRIORITY: dict[str, int] = {"acil": 100, "yuksek": 75, "normal": 50}
# Without a category (not yet routed) the law's 30 days apply (Law 3071).
UNROUTED_SERVICE_DAYS = 30


def service_time_text(category: Category | None, priority: str) -> str:
    """How long the service may take, as staff and citizens read it ("4 saat", "5 iş günü")."""
    if category is not None and priority == "acil":
        return f"{category.urgent_service_hours} saat"
    return f"{_working_days(category, priority)} iş günü"


def deadline(start: datetime, category: Category | None, priority: str) -> datetime:
    """When the answer is due, counted from `start` (receipt, or the reopening)."""
    if category is not None and priority == "acil":
        return start + timedelta(hours=category.urgent_service_hours)
    return add_working_days(start, _working_days(category, priority))


def follow_up(start: datetime, due: datetime) -> datetime:
    """Tasklist's follow-up date: the reminder to look at the task again, when three quarters of
    its service time have passed."""
    return start + (due - start) * 3 / 4


def _working_days(category: Category | None, priority: str) -> int:
    if category is None:
        return UNROUTED_SERVICE_DAYS
    if priority == "yuksek":
        return category.high_service_days or max(1, category.service_days // 2)
    return category.service_days
