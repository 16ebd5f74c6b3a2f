"""Runs last (file name): every element of every diagram was taken by some instance on the engine.

The levels recorded in tests/process-coverage.json may only go up; the report and pictures with
the taken elements marked are written to DATA_DIR/coverage (`kalite-coverage` writes them too).
"""

from __future__ import annotations

import json
from pathlib import Path

from deploy.process_coverage import DiagramCoverage, measure, write_report
from services.camunda_web import CamundaWeb, poll
from services.config import get_settings

REPO = Path(__file__).resolve().parents[2]
LEVELS = REPO / "tests" / "process-coverage.json"


def test_every_diagram_is_covered_at_least_at_its_recorded_level(camunda: CamundaWeb) -> None:
    recorded: dict[str, float] = json.loads(LEVELS.read_text(encoding="utf-8"))

    def enough() -> list[DiagramCoverage] | None:
        # Operate imports what the engine did a little later: wait for the last tests' instances.
        results = measure(REPO / "bpmn", camunda)
        return results if all(r.percent >= recorded.get(r.process_id, 100.0) for r in results) else None

    try:
        results = poll(enough, what="the recorded process coverage", timeout=60, every=5)
    finally:
        last = measure(REPO / "bpmn", camunda)
        write_report(last, get_settings().data_dir / "coverage")
    assert {r.process_id for r in results} == set(recorded), "record a level for every diagram"
    for r in results:
        assert r.percent >= recorded[r.process_id], f"{r.line()}; not taken: {r.missing}"
