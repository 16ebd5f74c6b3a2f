"""What a process owner does: edit a diagram (here, a copy of it) and deploy it with kalite-deploy."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BPMN = REPO / "bpmn"


def deploy(folder: Path = BPMN) -> dict[str, str]:
    """Run kalite-deploy on a folder; its output lines by resource id."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("kalite-deploy")), "--dir", str(folder)],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    return {line.split()[1]: line for line in out.splitlines() if line.strip()}


@contextmanager
def edited(diagram: str, change: Callable[[str], str], into: Path) -> Iterator[dict[str, str]]:
    """Deploy a changed copy of bpmn/<diagram>; deploy bpmn/ as it is again afterwards."""
    original = (BPMN / diagram).read_text(encoding="utf-8")
    changed = change(original)
    assert changed != original, f"the change found nothing to change in {diagram}"
    into.mkdir(parents=True, exist_ok=True)
    (into / diagram).write_text(changed, encoding="utf-8")
    try:
        yield deploy(into)
    finally:
        deploy(BPMN)
