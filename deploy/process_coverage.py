"""Process coverage: which flow nodes and sequence flows of each diagram the engine has run.

`kalite-coverage [--dir bpmn] [--out .data/coverage] [--check]` reads from the engine, for every
process in bpmn/ and every version of it, the flow nodes its instances entered (the history's
activity statistics, as Cockpit shows them) and the sequence flows they took (recorded by the
engine's own take listener, `deploy/engine`: Operaton's history keeps no flows), and writes per
diagram a text report and a picture with the taken elements in green and the rest in grey.
`--check` fails when a diagram is below its level in tests/process-coverage.json (the last step
of `make test`).
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from deploy.pictures import NS, render
from services.config import get_settings
from services.operaton import Operaton

REPO = Path(__file__).resolve().parents[1]
LEVELS = REPO / "tests" / "process-coverage.json"
FLOW_NODES = {
    "startEvent",
    "endEvent",
    "intermediateThrowEvent",
    "intermediateCatchEvent",
    "boundaryEvent",
    "task",
    "serviceTask",
    "userTask",
    "scriptTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "manualTask",
    "callActivity",
    "subProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
}


@dataclass
class DiagramCoverage:
    process_id: str
    path: Path
    nodes: set[str]
    flows: set[str]
    taken: set[str] = field(default_factory=set)
    instances: int = 0

    @property
    def missing(self) -> list[str]:
        return sorted((self.nodes | self.flows) - self.taken)

    @property
    def percent(self) -> float:
        total = self.nodes | self.flows
        return round(100.0 * len(total & self.taken) / len(total), 1) if total else 100.0

    def line(self) -> str:
        nodes = len(self.nodes & self.taken)
        flows = len(self.flows & self.taken)
        return (
            f"{self.process_id:<22} {self.percent:5.1f} %   flow nodes {nodes}/{len(self.nodes)}   "
            f"sequence flows {flows}/{len(self.flows)}   instances {self.instances}"
        )


def elements(path: Path) -> tuple[str, set[str], set[str]]:
    """The executable process of a file: its id, every flow node (nested ones too), every flow."""
    root = ET.parse(path).getroot()  # noqa: S314 - the repository's own diagrams
    process = root.find("bpmn:process", NS)
    assert process is not None, f"{path} has no process"
    nodes: set[str] = set()
    flows: set[str] = set()

    def walk(scope: ET.Element) -> None:
        for child in scope:
            kind = child.tag.rsplit("}", 1)[-1]
            if kind == "sequenceFlow":
                flows.add(child.attrib["id"])
            elif kind in FLOW_NODES:
                nodes.add(child.attrib["id"])
                if kind == "subProcess":
                    walk(child)

    walk(process)
    return process.attrib["id"], nodes, flows


def measure(source: Path, engine: Operaton) -> list[DiagramCoverage]:
    results = []
    for path in sorted(source.glob("*.bpmn")):
        process_id, nodes, flows = elements(path)
        coverage = DiagramCoverage(process_id, path, nodes, flows)
        for definition in engine.process_definitions(process_id):
            coverage.taken |= engine.entered_activities(definition["id"])
        coverage.instances = engine.instance_count(process_id)
        coverage.taken |= {flow for _, flow in engine.taken_flows(process_id)}
        results.append(coverage)
    return results


def below_level(results: list[DiagramCoverage]) -> list[str]:
    """What falls short of tests/process-coverage.json (every diagram must have a level)."""
    recorded: dict[str, float] = json.loads(LEVELS.read_text(encoding="utf-8"))
    problems = [f"{r.process_id}: no level recorded" for r in results if r.process_id not in recorded]
    problems += [
        f"{r.line()}; not taken: {', '.join(r.missing)}"
        for r in results
        if r.process_id in recorded and r.percent < recorded[r.process_id]
    ]
    return problems


def write_report(results: list[DiagramCoverage], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lines = ["Process coverage (flow nodes and sequence flows taken by any instance in the engine)", ""]
    for coverage in results:
        lines.append(coverage.line())
        detail = [coverage.line(), "", "not taken:", *(f"  {e}" for e in coverage.missing or ["(none)"])]
        (out / f"{coverage.process_id}.txt").write_text("\n".join(detail) + "\n", encoding="utf-8")
        for picture in render(coverage.path, highlight=coverage.taken):
            (out / f"{picture.name}.svg").write_text(picture.svg, encoding="utf-8")
    (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="kalite-coverage", description=__doc__)
    parser.add_argument("--dir", type=Path, default=REPO / "bpmn", help="diagrams")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default DATA_DIR/coverage)")
    parser.add_argument("--check", action="store_true", help="fail below tests/process-coverage.json")
    args = parser.parse_args()
    settings = get_settings()
    out = args.out or settings.data_dir / "coverage"
    with Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password) as engine:
        results = measure(args.dir, engine)
    write_report(results, out)
    for coverage in results:
        print(coverage.line())  # noqa: T201 - CLI output
        for element in coverage.missing:
            print(f"    not taken: {element}")  # noqa: T201
    print(f"report and pictures: {out}")  # noqa: T201
    if args.check and (problems := below_level(results)):
        print("process coverage below its recorded level:", *problems, sep="\n  ")  # noqa: T201
        sys.exit(1)


if __name__ == "__main__":
    main()
