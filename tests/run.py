"""`make test` after the lint: the PostgreSQL-only tier, then the engine tier on the real stack,
then the process coverage gate.

The unit tier (tests/unit) starts nothing but PostgreSQL. The engine tier reuses a running stack
(`make up`) or starts one and stops it afterwards; the coverage gate reads the engine before the
stack stops, so no test has to run last.
"""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = REPO / ".data" / "test-results"


def _api_healthy() -> bool:
    try:
        return httpx.get("http://127.0.0.1:8000/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _run(what: str, argv: list[str]) -> int:
    started = time.monotonic()
    code = subprocess.run(argv, cwd=REPO, check=False).returncode
    print(f"== {what}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
    return code


def _pytest(tier: str, extra: list[str]) -> list[str]:
    return [str(BIN / "pytest"), f"tests/{tier}", f"--junitxml={RESULTS / tier}.xml", *extra]


def _counts(tier: str) -> tuple[int, int]:
    """(passed, failed) of a tier from its JUnit report; a missing report counts as a failure."""
    try:
        suite = ET.parse(RESULTS / f"{tier}.xml").getroot()
    except (OSError, ET.ParseError):
        return 0, 1
    suite = suite if suite.tag == "testsuite" else suite[0]
    total, failed = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    return total - failed - int(suite.get("skipped", 0)), failed


def main() -> int:
    extra = sys.argv[1:]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for stale in RESULTS.glob("*.xml"):
        stale.unlink()
    unit = _run("PostgreSQL-only tier (tests/unit)", _pytest("unit", extra))
    started_here = not _api_healthy()
    if started_here:
        subprocess.run([sys.executable, "-m", "deploy.local.stack", "up"], cwd=REPO, check=True)
    try:
        engine = _run("engine tier (tests/integration)", _pytest("integration", extra))
        coverage = _run("process coverage gate", [str(BIN / "kalite-coverage"), "--check"])
    finally:
        if started_here:
            subprocess.run([sys.executable, "-m", "deploy.local.stack", "down"], cwd=REPO, check=False)
    counts = [_counts(tier) for tier in ("unit", "integration")]
    passed, failed = sum(c[0] for c in counts), sum(c[1] for c in counts) + (1 if coverage else 0)
    print(f"tests: {passed} passed, {failed} failed", flush=True)
    return next((code for code in (unit, engine, coverage) if code), 0)


if __name__ == "__main__":
    sys.exit(main())
