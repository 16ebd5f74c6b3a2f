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
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


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


def main() -> int:
    extra = sys.argv[1:]
    unit = _run("PostgreSQL-only tier (tests/unit)", [str(BIN / "pytest"), "tests/unit", *extra])
    started_here = not _api_healthy()
    if started_here:
        subprocess.run([sys.executable, "-m", "deploy.local.stack", "up"], cwd=REPO, check=True)
    try:
        engine = _run("engine tier (tests/integration)", [str(BIN / "pytest"), "tests/integration", *extra])
        coverage = _run("process coverage gate", [str(BIN / "kalite-coverage"), "--check"])
    finally:
        if started_here:
            subprocess.run([sys.executable, "-m", "deploy.local.stack", "down"], cwd=REPO, check=False)
    return next((code for code in (unit, engine, coverage) if code), 0)


if __name__ == "__main__":
    sys.exit(main())
