"""Every job type a diagram names has a handler, and every handler is used by a diagram."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from services.bootstrap import bootstrap
from workers import task_types
from workers.main import routers

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "zeebe": "http://camunda.org/schema/zeebe/1.0",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
}


def _diagrams() -> list[ET.Element]:
    return [ET.parse(path).getroot() for path in sorted(BPMN.glob("*.bpmn"))]


def test_task_types_in_diagrams_match_registered_handlers() -> None:
    used = {
        node.attrib["type"] for root in _diagrams() for node in root.iter(f"{{{NS['zeebe']}}}taskDefinition")
    }
    container = bootstrap()
    try:
        registered = {task.type for router in routers(container) for task in router.tasks}
    finally:
        container.close()
    constants = {v for k, v in vars(task_types).items() if k.isupper()}
    assert used == registered == constants


def test_every_user_task_has_a_turkish_form_that_is_deployed_with_it() -> None:
    forms = {json.loads(p.read_text())["id"]: json.loads(p.read_text()) for p in BPMN.rglob("*.form")}
    user_tasks = [task for root in _diagrams() for task in root.iter(f"{{{NS['bpmn']}}}userTask")]
    assert user_tasks
    for task in user_tasks:
        link = task.find(".//zeebe:formDefinition", NS)
        assert link is not None, f"{task.attrib['id']} has no form"
        form = forms[link.attrib["formId"]]
        labels = " ".join(c.get("label", "") + c.get("text", "") for c in form["components"])
        assert any(ch in labels for ch in "çğıöşüÇĞİÖŞÜ"), f"form {form['id']} is not in Turkish"


def test_every_diagram_has_diagram_interchange_for_every_flow_element() -> None:
    for root in _diagrams():
        shapes = {
            el.attrib["bpmnElement"]
            for tag in ("BPMNShape", "BPMNEdge")
            for el in root.iter(f"{{{NS['bpmndi']}}}{tag}")
        }
        for process in root.iter(f"{{{NS['bpmn']}}}process"):
            for element in process:
                if "id" in element.attrib and not element.tag.endswith("documentation"):
                    assert element.attrib["id"] in shapes, f"{element.attrib['id']} has no shape"
