"""The filters' columns and the engine's copies of them name the same variables; the filter the
starter makes is the one engine_filters moves last (what they list: the integration test)."""

from __future__ import annotations

import re

from deploy.local import engine, engine_filters

APPLICATION = (engine.SOURCES / "src/main/resources/application.yaml").read_text(encoding="utf-8")
PLUGIN = (engine.SOURCES / "src/main/java/belediye/engine/TasklistColumns.java").read_text(encoding="utf-8")


def _setting(name: str) -> str:
    match = re.search(rf"^\s*{re.escape(name)}:\s*(.+?)\s*$", APPLICATION, re.M)
    assert match, f"{name} is not set in application.yaml"
    return match.group(1)


def test_the_engine_copies_exactly_the_columns_the_filters_show() -> None:
    copied = _setting("tasklist-columns").split(",")
    assert copied == list(engine_filters.COLUMNS)
    prefix = re.search(r'PREFIX = "([^"]+)"', PLUGIN)
    assert prefix and prefix.group(1) == engine_filters.COLUMN_PREFIX
    shown = [v["name"] for v in engine_filters.VARIABLES]
    assert shown == [f"tasklist_{name}" for name in copied]


def test_the_starters_filter_is_the_one_put_last() -> None:
    assert _setting("create") == engine_filters.ALL_TASKS
    orders = [f.order for f in engine_filters.FILTERS]
    assert orders == sorted(orders) and max(orders) < engine_filters.ALL_TASKS_FILTER.order
