"""Process coverage: which flow nodes and sequence flows of each diagram the engine has run.

`kalite-coverage [--dir bpmn] [--out .data/coverage]` asks Operate (as its web UI does) for every
instance of every process in bpmn/, whatever its version, and writes per diagram a text report
and a picture with the taken elements in green and the rest in grey. The integration suite ends
by comparing the figures with the levels recorded in tests/process-coverage.json.
"""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from deploy.pictures import NS, render
from services.camunda_web import CamundaWeb
from services.config import get_settings

REPO = Path(__file__).resolve().parents[1]
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


def elements(path: Path) -> tuple[str, set[str], set[str], dict[str, str]]:
    """The executable process of a file: its id, every flow node (nested ones too), every flow,
    and the flows leaving event-based gateways (flow → the event it leads to)."""
    root = ET.parse(path).getroot()  # noqa: S314 - the repository's own diagrams
    process = root.find("bpmn:process", NS)
    assert process is not None, f"{path} has no process"
    nodes: set[str] = set()
    flows: set[str] = set()
    event_gateways = {g.attrib["id"] for g in root.iter(f"{{{NS['bpmn']}}}eventBasedGateway")}
    after_event_gateway: dict[str, str] = {}

    def walk(scope: ET.Element) -> None:
        for child in scope:
            kind = child.tag.rsplit("}", 1)[-1]
            if kind == "sequenceFlow":
                flows.add(child.attrib["id"])
                if child.attrib["sourceRef"] in event_gateways:
                    after_event_gateway[child.attrib["id"]] = child.attrib["targetRef"]
            elif kind in FLOW_NODES:
                nodes.add(child.attrib["id"])
                if kind == "subProcess":
                    walk(child)

    walk(process)
    return process.attrib["id"], nodes, flows, after_event_gateway


def measure(source: Path, web: CamundaWeb) -> list[DiagramCoverage]:
    results = []
    for path in sorted(source.glob("*.bpmn")):
        process_id, nodes, flows, after_event_gateway = elements(path)
        coverage = DiagramCoverage(process_id, path, nodes, flows)
        for instance in web.process_instances(process_id):
            coverage.instances += 1
            coverage.taken |= web.flow_node_ids(instance["key"]) | web.sequence_flow_ids(instance["key"])
        # Zeebe records no "sequence flow taken" after an event-based gateway: the event that
        # occurred is activated directly. Its flow was taken when that event was.
        coverage.taken |= {flow for flow, event in after_event_gateway.items() if event in coverage.taken}
        results.append(coverage)
    return results


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
    args = parser.parse_args()
    settings = get_settings()
    out = args.out or settings.data_dir / "coverage"
    with CamundaWeb.login(settings) as web:
        results = measure(args.dir, web)
    write_report(results, out)
    for coverage in results:
        print(coverage.line())  # noqa: T201 - CLI output
        for element in coverage.missing:
            print(f"    not taken: {element}")  # noqa: T201
    print(f"report and pictures: {out}")  # noqa: T201


if __name__ == "__main__":
    main()
