"""Every topic a diagram names has a handler, and every handler is used by a diagram; every user
task has a Turkish form; templates, pictures and layouts match the diagrams."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema

from deploy.pictures import render, write_all
from services.bootstrap import bootstrap
from workers import task_types
from workers.main import routers

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
DC = "http://www.omg.org/spec/DD/20100524/DC"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
}


def _diagrams() -> list[ET.Element]:
    return [ET.parse(path).getroot() for path in sorted(BPMN.glob("*.bpmn"))]


def _topics() -> set[str]:
    return {
        node.attrib[f"{{{NS['camunda']}}}topic"]
        for root in _diagrams()
        for node in root.iter()
        if node.attrib.get(f"{{{NS['camunda']}}}type") == "external"
    }


def test_topics_in_diagrams_match_registered_handlers() -> None:
    used = _topics()
    container = bootstrap()
    try:
        registered = {s.topic for router in routers(container) for s in router.subscriptions}
    finally:
        container.close()
    constants = {v for k, v in vars(task_types).items() if k.isupper()}
    assert used == registered == constants


def test_every_user_task_has_a_turkish_form_that_is_deployed_with_it() -> None:
    forms = {json.loads(p.read_text())["id"]: json.loads(p.read_text()) for p in BPMN.rglob("*.form")}
    user_tasks = [task for root in _diagrams() for task in root.iter(f"{{{NS['bpmn']}}}userTask")]
    assert user_tasks
    for task in user_tasks:
        form_id = task.attrib.get(f"{{{NS['camunda']}}}formRef")
        assert form_id, f"{task.attrib['id']} has no form"
        assert task.attrib.get(f"{{{NS['camunda']}}}formRefBinding") == "deployment"
        form = forms[form_id]
        assert form["executionPlatform"] == "Camunda Platform", f"form {form_id} is not for Camunda 7"
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


# Camunda Modeler loads templates from `.camunda/element-templates` beside (or above) a diagram.
TEMPLATES = BPMN / ".camunda" / "element-templates"
TEMPLATE_SCHEMA = (
    BPMN.parent / "tests/bpmnlint/node_modules/@camunda/element-templates-json-schema/resources/schema.json"
)


def _templates() -> list[dict[str, Any]]:
    return [
        t for path in sorted(TEMPLATES.glob("*.json")) for t in json.loads(path.read_text(encoding="utf-8"))
    ]


def test_element_templates_validate_against_camundas_schema() -> None:
    assert TEMPLATE_SCHEMA.exists(), "run `make lint` (npm ci in tests/bpmnlint) first"
    validator = jsonschema.Draft7Validator(json.loads(TEMPLATE_SCHEMA.read_text(encoding="utf-8")))
    templates = _templates()
    assert [str(e.message) for e in validator.iter_errors(templates)] == []
    # The schema is live: a template without a name is refused.
    broken = json.loads(json.dumps(templates[0]))
    del broken["name"]
    assert list(validator.iter_errors([broken]))


def test_every_topic_has_exactly_one_turkish_template_and_every_template_is_used() -> None:
    fixed = {
        p["value"]: t
        for t in _templates()
        for p in t["properties"]
        if p["binding"] == {"type": "property", "name": "camunda:topic"}
    }
    used = _topics()
    assert len(fixed) == len(_templates())
    assert set(fixed) == used
    for topic, template in fixed.items():
        text = template["name"] + template["description"]
        assert any(ch in text for ch in "çğıöşüÇĞİÖŞÜ"), f"template of {topic} is not in Turkish"


def test_the_pictures_in_the_docs_show_the_diagrams_as_they_are(tmp_path: Path) -> None:
    """`make pictures` after changing a diagram keeps the README honest."""
    drawn = {p.name: p.read_text(encoding="utf-8") for p in write_all(BPMN, tmp_path)}
    committed = {
        p.name: p.read_text(encoding="utf-8") for p in (BPMN.parent / "docs" / "diagrams").glob("*.svg")
    }
    assert drawn.keys() == committed.keys()
    stale = [name for name in drawn if drawn[name] != committed[name]]
    assert not stale, f"run `make pictures`: {stale} no longer match bpmn/"


def test_coverage_pictures_mark_what_was_taken() -> None:
    (picture, *_) = render(BPMN / "sistem-kontrol.bpmn", highlight={"test-bildirimi-gonder"})
    assert picture.svg.count("#1a7f37") >= 1 and "#b0b7c3" in picture.svg


Box = tuple[float, float, float, float]


def _box(bounds: ET.Element) -> Box:
    x, y, w, h = (float(bounds.attrib[k]) for k in ("x", "y", "width", "height"))
    return x, y, w, h


def _shapes(plane: ET.Element) -> list[tuple[str, Box]]:
    return [
        (el.attrib["bpmnElement"], _box(bounds))
        for el in plane.findall("bpmndi:BPMNShape", NS)
        if (bounds := el.find("dc:Bounds", {**NS, "dc": DC})) is not None
    ]


def _labels(plane: ET.Element) -> list[tuple[str, Box]]:
    return [
        (el.attrib["bpmnElement"], _box(bounds))
        for tag in ("BPMNShape", "BPMNEdge")
        for el in plane.findall(f"bpmndi:{tag}", NS)
        if (bounds := el.find("bpmndi:BPMNLabel/dc:Bounds", {**NS, "dc": DC})) is not None
    ]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_layouts_are_readable_no_shape_covers_another_and_no_label_covers_a_shape() -> None:
    for path in sorted(BPMN.glob("*.bpmn")):
        root = ET.parse(path).getroot()
        attached = {
            el.attrib["id"]: el.attrib["attachedToRef"] for el in root.iter(f"{{{NS['bpmn']}}}boundaryEvent")
        }
        for plane in root.iter(f"{{{NS['bpmndi']}}}BPMNPlane"):
            shapes = _shapes(plane)
            for i, (a, box_a) in enumerate(shapes):
                for b, box_b in shapes[i + 1 :]:
                    if attached.get(a) == b or attached.get(b) == a:
                        continue
                    assert not _overlap(box_a, box_b), f"{path.name}: {a} overlaps {b}"
            labels = _labels(plane)
            for owner, label_box in labels:
                for shape, shape_box in shapes:
                    assert not _overlap(label_box, shape_box), f"{path.name}: label of {owner} covers {shape}"
